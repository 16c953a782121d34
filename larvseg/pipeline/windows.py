"""Sliding windows: feature-resolution logits for model-sized images of any size.

Windows of `window x window` pixels step by `stride` (default: two thirds of the
window, whole patches) and cover every image; same-shaped windows of all images run
in one batch, and where windows overlap their logits are averaged.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from ..errors import InputError
from .network import DenseNetwork


@dataclass(frozen=True)
class Window:
    """A crop of image `image`, in pixels of the model-sized input."""

    image: int
    top: int
    left: int
    height: int
    width: int


def default_stride(window: int, patch_size: int) -> int:
    """Two thirds of the window (mmseg's 341 for 512), rounded down to whole patches."""
    return max(patch_size, (window * 2 // 3) // patch_size * patch_size)


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Start offsets covering `[0, length)`; the last window ends at `length`."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window, stride))
    starts.append(length - window)
    return starts


def tile_windows(sizes: Sequence[tuple[int, int]], window: int, stride: int) -> list[Window]:
    """All windows of all images; `sizes` are `(H, W)` of the model-sized inputs."""
    return [
        Window(index, top, left, min(window, height), min(window, width))
        for index, (height, width) in enumerate(sizes)
        for top in window_starts(height, window, stride)
        for left in window_starts(width, window, stride)
    ]


def _batches(windows: list[Window], batch_size: int) -> Iterator[list[Window]]:
    """Windows grouped by shape, in chunks of at most `batch_size`."""
    by_shape: dict[tuple[int, int], list[Window]] = {}
    for w in windows:
        by_shape.setdefault((w.height, w.width), []).append(w)
    for group in by_shape.values():
        for start in range(0, len(group), batch_size):
            yield group[start : start + batch_size]


def autocast_context(
    device: torch.device, dtype: torch.dtype | None
) -> contextlib.AbstractContextManager:
    """bf16/fp16 autocast on `device` when `dtype` is a half type, else a no-op."""
    if dtype in (torch.bfloat16, torch.float16):
        return torch.autocast(device_type=device.type, dtype=dtype)
    return contextlib.nullcontext()


@torch.inference_mode()
def window_logits(
    model: DenseNetwork,
    images: Sequence[torch.Tensor],
    window: int,
    stride: int | None = None,
    *,
    class_indices: torch.Tensor | None = None,
    batch_size: int = 4,
    autocast_dtype: torch.dtype | None = None,
) -> list[torch.Tensor]:
    """Feature-resolution logits of each image, channels last, from overlapping windows.

    Args:
        images: normalised `(1, 3, H, W)` tensors on the model's device, H and W
            multiples of the patch size; sizes may differ.
        window: window side in pixels (a multiple of the patch size).
        stride: window step in pixels; default two thirds of the window.
        class_indices: `(C',)` classes to score; default all `C`.
        batch_size: windows per forward pass (same-shaped windows of all images batch).
        autocast_dtype: `torch.bfloat16` to run under autocast.

    Returns:
        One float32 tensor `(H / p, W / p, C')` per image; overlapping windows are averaged.
    """
    p = model.patch_size
    stride = stride or default_stride(window, p)
    if window % p or stride % p:
        raise InputError(
            f"window {window} and stride {stride} must be multiples of the patch size {p}"
        )
    sizes = [(int(x.shape[-2]), int(x.shape[-1])) for x in images]
    windows = tile_windows(sizes, window, stride)
    windows_per_image = Counter(w.image for w in windows)
    sums: list[torch.Tensor | None] = [None] * len(images)
    counts: list[torch.Tensor | None] = [None] * len(images)  # None: a single window
    device = images[0].device
    for batch in _batches(windows, batch_size):
        crops = torch.cat(
            [
                images[w.image][..., w.top : w.top + w.height, w.left : w.left + w.width]
                for w in batch
            ]
        )
        with autocast_context(device, autocast_dtype):
            logits = model(crops, class_indices)
        for w, result in zip(batch, logits.float().permute(0, 2, 3, 1), strict=True):
            if windows_per_image[w.image] == 1:
                sums[w.image] = result.contiguous()
                continue
            total, count = sums[w.image], counts[w.image]
            if total is None or count is None:
                h, wd = sizes[w.image][0] // p, sizes[w.image][1] // p
                total = sums[w.image] = result.new_zeros(h, wd, result.shape[-1])
                count = counts[w.image] = result.new_zeros(h, wd, 1)
            rows = slice(w.top // p, (w.top + w.height) // p)
            cols = slice(w.left // p, (w.left + w.width) // p)
            total[rows, cols] += result
            count[rows, cols] += 1
    return [
        total if count is None else total / count
        for total, count in zip(sums, counts, strict=True)
        if total is not None
    ]
