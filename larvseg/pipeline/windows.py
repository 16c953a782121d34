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


def _banded_logits(
    model: DenseNetwork, features: torch.Tensor, keep: torch.Tensor | None, subset: bool = False
) -> list[tuple[slice, torch.Tensor]]:
    """Logits of a batch's feature grid `(B, D, h, w)`, `(rows, (B, h', w, C'))` per band of
    rows, the bands small enough that each holds at most `LOGIT_BUDGET` logits (the whole
    grid at once when it fits); `keep` selects classes after normalisation over all,
    by slicing all classes' logits or, with `subset`, by `classify(grid, keep)`."""
    batch, _, height, width = features.shape
    classes = len(keep) if subset and keep is not None else model.config.num_classes
    band = max(1, LOGIT_BUDGET // max(1, batch * width * classes))
    outputs = []
    for top in range(0, height, band):
        rows = slice(top, min(top + band, height))
        chunk = features if band >= height else features[:, :, rows]
        if subset:
            logits = model.classify(chunk, keep).float().permute(0, 2, 3, 1)
        else:
            logits = model.classify(chunk).float().permute(0, 2, 3, 1)
            logits = logits if keep is None else logits[..., keep]
        outputs.append((rows, logits))
    return outputs


def _top_classes(scores: torch.Tensor, among: torch.Tensor | None, k: int) -> torch.Tensor:
    """The `k` best classes `(B, k)` of image logits `(B, C)`, among `among` `(C',)` only."""
    if among is not None:
        return among[scores[:, among].topk(min(k, len(among)), dim=1).indices]
    return scores.topk(min(k, scores.shape[1]), dim=1).indices


class _Accumulator:
    """Sums (and counts) window logits into each image's grid."""

    def __init__(self, sizes: list[tuple[int, int]], windows: list[Window], p: int, stride: int):
        self.sizes, self.p, self.stride = sizes, p, stride
        self.windows_per_image = Counter(w.image for w in windows)
        self.sums: list[torch.Tensor | None] = [None] * len(sizes)
        self.counts: list[torch.Tensor | None] = [None] * len(sizes)  # None: a single window

    def add(self, batch: list[Window], outputs: list[tuple[slice, torch.Tensor]]) -> None:
        """Add the banded logits `outputs` (`(rows, (B, h', w, C'))`) of `batch`."""
        p, stride = self.p, self.stride
        # a batch of whole images only: each keeps a view of the batch's logits (no copy);
        # otherwise a copy, so the rest of the batch's logits are freed
        whole_images = all(self.windows_per_image[w.image] == 1 for w in batch)
        for i, w in enumerate(batch):
            if self.windows_per_image[w.image] == 1:
                bands = [out[i] for _, out in outputs]
                view = whole_images and len(bands) == 1
                self.sums[w.image] = bands[0] if view else torch.cat(bands)
                continue
            total, count = self.sums[w.image], self.counts[w.image]
            if total is None or count is None:
                h, wd = (grid_length(n, p, stride) for n in self.sizes[w.image])
                first = outputs[0][1]
                total = self.sums[w.image] = first.new_zeros(h, wd, first.shape[-1])
                count = self.counts[w.image] = first.new_zeros(h, wd, 1)
            top, left = w.top // stride, w.left // stride
            cols = slice(left, left + grid_length(w.width, p, stride))
            for rows, out in outputs:
                total[top + rows.start : top + rows.stop, cols] += out[i]
            count[top : top + grid_length(w.height, p, stride), cols] += 1

    def averages(self) -> list[torch.Tensor]:
        """Each image's logits, overlapping windows averaged."""
        return [
            total if count is None else total / count
            for total, count in zip(self.sums, self.counts, strict=True)
            if total is not None
        ]


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
    logits, _ = _window_pass(
        model, images, window, step, stride, keep, batch_size, autocast_dtype, None, False
    )
    return logits


@torch.inference_mode()
def preselected_window_logits(
    model: DenseNetwork,
    images: Sequence[torch.Tensor],
    window: int,
    preselect: int,
    step: int | None = None,
    *,
    stride: int | None = None,
    keep: torch.Tensor | None = None,
    batch_size: int | None = None,
    autocast_dtype: torch.dtype | None = None,
    all_kept: bool = False,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`window_logits` of each image's preselected classes only: the union over its
    windows of each window's top `preselect` classes by `DenseNetwork.image_logits`
    (among `keep`). Windows' features are kept until every window has run, then only
    the preselected classes are scored (`DenseNetwork.classify(grid, classes)`).

    Args:
        all_kept: score all of `keep` all the same (open mode: the others still compete,
            and win pixels that stay unlabeled).

    Returns:
        Per image: logits `(h, w, S)` and the sorted classes `(S,)` they are of (all of
        `keep` with `all_kept`: logits `(h, w, C')`).
    """
    logits, selected = _window_pass(
        model, images, window, step, stride, keep, batch_size, autocast_dtype, preselect, all_kept
    )
    return list(zip(logits, selected, strict=True))


def _window_pass(
    model: DenseNetwork,
    images: Sequence[torch.Tensor],
    window: int,
    step: int | None,
    stride: int | None,
    keep: torch.Tensor | None,
    batch_size: int | None,
    autocast_dtype: torch.dtype | None,
    preselect: int | None,
    all_kept: bool,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each image's averaged logits and, with `preselect`, its preselected classes (else
    none)."""
    p = model.patch_size
    stride = p if stride is None else stride
    check_stride(stride, p)
    step = step or default_step(window, p)
    if window % p or step % p:
        raise InputError(f"window {window} and step {step} must be multiples of the patch size {p}")
    sizes = [(int(x.shape[-2]), int(x.shape[-1])) for x in images]
    windows = tile_windows(sizes, window, step)
    accumulator = _Accumulator(sizes, windows, p, stride)
    device = images[0].device
    classes = model.config.num_classes
    chosen = torch.zeros(len(images), classes, dtype=torch.bool, device=device)
    stored: list[tuple[list[Window], torch.Tensor]] = []

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
            features = model.features(crops, stride)
            scored = preselect is None or all_kept
            outputs = _banded_logits(model, features.grid, keep) if scored else []
            if preselect is not None:
                top = _top_classes(model.image_logits(features).float(), keep, preselect)
        if outputs:
            accumulator.add(batch, outputs)
        else:
            stored.append((batch, features.grid))
        if preselect is not None:
            for i, w in enumerate(batch):
                chosen[w.image, top[i]] = True
    selected = [row.nonzero().squeeze(1) for row in chosen] if preselect is not None else []
    for batch, grid in stored:  # each window scores the classes chosen for its image
        for image in sorted({w.image for w in batch}):
            rows = [i for i, w in enumerate(batch) if w.image == image]
            with autocast_context(device, autocast_dtype):
                outputs = _banded_logits(model, grid[rows], selected[image], subset=True)
            accumulator.add([batch[i] for i in rows], outputs)
    return accumulator.averages(), selected
