"""The whole prediction path, once: pixels -> model input -> window logits -> label maps.

`LarvSeg.segment` and the evaluation (`larvseg-train --eval-only`) both call
`predict_labels`, so a benchmark scores exactly what users run: the same resize and
normalisation, the same sliding windows, scores normalised over the whole vocabulary
and the same vocabulary handling (`ItemAssignment`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..modeling.backbone import check_stride
from ..modeling.model import LarvSegModel
from .labeling import ItemAssignment, label_pixels
from .preprocess import InputTransform
from .windows import window_logits


def input_transform(model: LarvSegModel, size: int | None = None) -> InputTransform:
    """The resize + normalisation of `model`'s inputs (short side `size`, default the
    model's `image_size`)."""
    config = model.config
    return InputTransform(size or config.image_size, model.patch_size, config.mean, config.std)


def predict_labels(
    model: LarvSegModel,
    images: Sequence[np.ndarray],
    items: ItemAssignment,
    *,
    size: int | None = None,
    window: int | None = None,
    window_step: int | None = None,
    stride: int | None = None,
    batch_size: int = 4,
    k: int | None = 8,
    autocast_dtype: torch.dtype | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Item label maps (and confidences) of `images` at their own resolution.

    Args:
        model: the network, in eval mode on its device.
        images: `(H, W, 3)` uint8 RGB arrays (`larvseg.pipeline.image.load_image` output).
        items: which model classes make up each requested item, and the mode.
        size: short side the images are resized to (default the model's `image_size`).
        window: sliding-window side (default `size`); window_step: its step (default 2/3).
        stride: patch-embedding stride, a divisor of the patch size `p` (default `p`):
            the model decides on a `(p / stride)^2` times denser grid (see `ViTBackbone`).
        batch_size: windows per forward pass.
        k: decoding candidates per patch; None = exact argmax of the upsampled logits.
        autocast_dtype: `torch.bfloat16` (or float16) to run the network under autocast.

    Returns:
        Per image: labels `(H, W)` int32 item indices (-1 = unlabeled) and scores
        `(H, W)` float32, see `label_pixels`.
    """
    transform = input_transform(model, size)
    return labels_from_inputs(
        model,
        [transform(image) for image in images],
        [(image.shape[0], image.shape[1]) for image in images],
        items,
        window=window or transform.size,
        window_step=window_step,
        stride=stride,
        batch_size=batch_size,
        k=k,
        autocast_dtype=autocast_dtype,
    )


def labels_from_inputs(
    model: LarvSegModel,
    inputs: Sequence[torch.Tensor],
    out_sizes: Sequence[tuple[int, int]],
    items: ItemAssignment,
    *,
    window: int,
    window_step: int | None = None,
    stride: int | None = None,
    batch_size: int = 4,
    k: int | None = 8,
    autocast_dtype: torch.dtype | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`predict_labels` from model inputs already made by `input_transform(model, size)`:
    `(3, H', W')` tensors (any device), decoded at `out_sizes` `(H, W)` (the originals')."""
    stride = model.patch_size if stride is None else stride
    check_stride(stride, model.patch_size)
    device = next(model.parameters()).device
    decided = items.decided
    logits = window_logits(
        model,
        [x[None].to(device) for x in inputs],
        window,
        window_step,
        stride=stride,
        keep=None if decided is None else decided.to(device),
        batch_size=batch_size,
        autocast_dtype=autocast_dtype,
    )
    span = model.patch_size // stride
    return [
        label_pixels(grid.cpu(), items, out_size, k, span)
        for out_size, grid in zip(out_sizes, logits, strict=True)
    ]
