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
"""Logits one forward holds at most (512 MiB of float32) beyond a single band of rows:
windows per forward and rows per classifier call shrink to fit. Four 512-pixel windows
of a 21,843-class ViT-B/16 at stride 16 (89M) fit, so the default path is unchanged."""


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


def _batches(
    windows: list[Window], batch_size: int, cells: Callable[[Window], int]
) -> Iterator[list[Window]]:
    """Windows grouped by shape, in chunks of at most `batch_size` windows and (beyond one
    window) at most `LOGIT_BUDGET` logits; `cells(w)` is a window's logits count."""
    by_shape: dict[tuple[int, int], list[Window]] = {}
    for w in windows:
        by_shape.setdefault((w.height, w.width), []).append(w)
    for group in by_shape.values():
        size = max(1, min(batch_size, LOGIT_BUDGET // max(1, cells(group[0]))))
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
    batch_size: int = 4,
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
        batch_size: windows per forward pass (same-shaped windows of all images batch);
            fewer, and the classifier in bands of rows, where their logits would exceed
            `LOGIT_BUDGET` floats.
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

    def cells(w: Window) -> int:
        return grid_length(w.height, p, stride) * grid_length(w.width, p, stride) * classes

    for batch in _batches(windows, batch_size, cells):
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
