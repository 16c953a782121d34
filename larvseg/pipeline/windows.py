"""Sliding windows: feature-resolution logits for model-sized images of any size.

Windows of `window x window` pixels step by `step` (default: two thirds of the
window, whole patches) and cover every image; same-shaped windows of all images run
in one batch, and where windows overlap their logits are averaged. The model may run
its patch embedding at a `stride` below the patch size (a denser feature grid); a
window starting at pixel `t` (a multiple of the patch, hence of the stride) then fills
grid cells from `t / stride` on.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from ..errors import InputError
from ..modeling.backbone import check_stride, grid_length
from .network import DenseNetwork

LOGIT_BUDGET = 1 << 27
"""Logits one classifier call holds at most (512 MiB of float32) beyond a single band of
rows: a batch's classifier runs in bands of feature rows to fit."""

CPU_MEMORY_BUDGET = 3 << 29
"""Bytes one forward pass may hold on a CPU (1.5 GiB): four 512-pixel windows of a
21,843-class ViT-B/16 (about 358 MB each by `window_bytes`) fit, a fifth does not."""
CUDA_FREE_SHARE = 0.5
"""Share of the CUDA memory free at the call (`torch.cuda.mem_get_info` plus what torch's
allocator holds unused) one forward pass may hold; the rest is left for the accumulated
logits, the decoding and the allocator's fragmentation."""
LOGIT_BYTES = 10
"""Bytes per logit of a forward: float32 logits, the half-precision head output, a kept
subset's copy."""
ATTENTION_BYTES = 64
"""Bytes per pair of tokens: an explicit attention matrix of up to 16 float32 heads."""
TOKEN_BYTES = 1 << 16
"""Bytes per token of the backbone's other activations (ViT-L: 1,024 float32 channels,
the MLP's four-fold hidden layer and a few residual copies)."""


@dataclass(frozen=True)
class Window:
    """A crop of image `image`, in pixels of the model-sized input."""

    image: int
    top: int
    left: int
    height: int
    width: int


def default_step(window: int, patch_size: int) -> int:
    """Two thirds of the window (mmseg's 341 for 512), rounded down to whole patches."""
    return max(patch_size, (window * 2 // 3) // patch_size * patch_size)


def window_starts(length: int, window: int, step: int) -> list[int]:
    """Start offsets covering `[0, length)`; the last window ends at `length`."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window, step))
    starts.append(length - window)
    return starts


def tile_windows(sizes: Sequence[tuple[int, int]], window: int, step: int) -> list[Window]:
    """All windows of all images; `sizes` are `(H, W)` of the model-sized inputs."""
    return [
        Window(index, top, left, min(window, height), min(window, width))
        for index, (height, width) in enumerate(sizes)
        for top in window_starts(height, window, step)
        for left in window_starts(width, window, step)
    ]


def memory_budget(device: torch.device) -> int:
    """Bytes one forward pass on `device` may hold: on CUDA `CUDA_FREE_SHARE` of the memory
    free now, on other devices `CPU_MEMORY_BUDGET`."""
    if device.type != "cuda":
        return CPU_MEMORY_BUDGET
    free, _ = torch.cuda.mem_get_info(device)
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return int((free + cached) * CUDA_FREE_SHARE)


def window_bytes(tokens: int, classes: int) -> int:
    """Estimated peak bytes of one window in a forward pass: `tokens` grid cells (patch
    tokens) with `classes` logits each, attention over all token pairs and the per-token
    activations (an upper bound for ViT-B and ViT-L)."""
    return tokens * (classes * LOGIT_BYTES + tokens * ATTENTION_BYTES + TOKEN_BYTES)


def _batches(
    windows: list[Window], batch_size: int | None, budget: int, cost: Callable[[Window], int]
) -> Iterator[list[Window]]:
    """Windows grouped by shape, in chunks of as many windows as `budget` bytes hold (at
    least one), at most `batch_size` when given; `cost(w)` is a window's bytes."""
    by_shape: dict[tuple[int, int], list[Window]] = {}
    for w in windows:
        by_shape.setdefault((w.height, w.width), []).append(w)
    for group in by_shape.values():
        size = max(1, budget // max(1, cost(group[0])))
        if batch_size is not None:
            size = max(1, min(batch_size, size))
        for start in range(0, len(group), size):
            yield group[start : start + size]


def autocast_context(
    device: torch.device, dtype: torch.dtype | None
) -> contextlib.AbstractContextManager:
    """bf16/fp16 autocast on `device` when `dtype` is a half type, else a no-op."""
    if dtype in (torch.bfloat16, torch.float16):
        return torch.autocast(device_type=device.type, dtype=dtype)
    return contextlib.nullcontext()


def _window_outputs(
    model: DenseNetwork, crops: torch.Tensor, stride: int, keep: torch.Tensor | None
) -> Iterator[tuple[slice, torch.Tensor]]:
    """Logits of a batch of crops, `(rows, (B, h', w, C'))` per band of feature rows, the
    bands small enough that each holds at most `LOGIT_BUDGET` logits (the whole grid at
    once when it fits); `keep` selects classes after normalisation over all of them."""
    features = model.features(crops, stride).grid
    batch, _, height, width = features.shape
    classes = model.config.num_classes
    band = max(1, LOGIT_BUDGET // max(1, batch * width * classes))
    for top in range(0, height, band):
        rows = slice(top, min(top + band, height))
        chunk = features if band >= height else features[:, :, rows]
        logits = model.classify(chunk).float().permute(0, 2, 3, 1)
        yield rows, logits if keep is None else logits[..., keep]


@torch.inference_mode()
def window_logits(
    model: DenseNetwork,
    images: Sequence[torch.Tensor],
    window: int,
    step: int | None = None,
    *,
    stride: int | None = None,
    keep: torch.Tensor | None = None,
    batch_size: int | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> list[torch.Tensor]:
    """Feature-resolution logits of each image, channels last, from overlapping windows.

    Args:
        images: normalised `(1, 3, H, W)` tensors on the model's device, H and W
            multiples of the patch size; sizes may differ.
        window: window side in pixels (a multiple of the patch size).
        step: window step in pixels; default two thirds of the window.
        stride: patch-embedding stride, a divisor of the patch size `p` (default `p`):
            the grid is `(H - p) / stride + 1` cells high (see `ViTBackbone`).
        keep: `(C',)` classes whose logits are kept (after the score normalisation over
            all `C`); default all. Only these are accumulated, so a vocabulary subset
            bounds the memory of dense grids.
        batch_size: at most this many windows per forward pass (same-shaped windows of
            all images batch); None = as many as the device's `memory_budget` holds by
            `window_bytes`. The classifier runs in bands of rows where a batch's logits
            would exceed `LOGIT_BUDGET` floats.
        autocast_dtype: `torch.bfloat16` to run under autocast.

    Returns:
        One float32 tensor `(h, w, C')` per image; overlapping windows are averaged.
    """
    p = model.patch_size
    stride = p if stride is None else stride
    check_stride(stride, p)
    step = step or default_step(window, p)
    if window % p or step % p:
        raise InputError(f"window {window} and step {step} must be multiples of the patch size {p}")
    sizes = [(int(x.shape[-2]), int(x.shape[-1])) for x in images]
    windows = tile_windows(sizes, window, step)
    windows_per_image = Counter(w.image for w in windows)
    sums: list[torch.Tensor | None] = [None] * len(images)
    counts: list[torch.Tensor | None] = [None] * len(images)  # None: a single window
    device = images[0].device
    classes = model.config.num_classes

    def cost(w: Window) -> int:
        tokens = grid_length(w.height, p, stride) * grid_length(w.width, p, stride)
        return window_bytes(tokens, classes)

    for batch in _batches(windows, batch_size, memory_budget(device), cost):
        crops = torch.cat(
            [
                images[w.image][..., w.top : w.top + w.height, w.left : w.left + w.width]
                for w in batch
            ]
        )
        with autocast_context(device, autocast_dtype):
            outputs = list(_window_outputs(model, crops, stride, keep))
        for i, w in enumerate(batch):
            if windows_per_image[w.image] == 1:
                sums[w.image] = torch.cat([out[i] for _, out in outputs]).contiguous()
                continue
            total, count = sums[w.image], counts[w.image]
            if total is None or count is None:
                h, wd = (grid_length(n, p, stride) for n in sizes[w.image])
                total = sums[w.image] = outputs[0][1].new_zeros(h, wd, outputs[0][1].shape[-1])
                count = counts[w.image] = outputs[0][1].new_zeros(h, wd, 1)
            top, left = w.top // stride, w.left // stride
            cols = slice(left, left + grid_length(w.width, p, stride))
            for rows, out in outputs:
                total[top + rows.start : top + rows.stop, cols] += out[i]
            count[top : top + grid_length(w.height, p, stride), cols] += 1
    return [
        total if count is None else total / count
        for total, count in zip(sums, counts, strict=True)
        if total is not None
    ]
