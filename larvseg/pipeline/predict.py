"""The whole prediction path, once: pixels -> model input -> window logits -> label maps.

`LarvSeg.segment` and the evaluation (`larvseg-train eval`) both call
`predict_labels`, so a benchmark scores exactly what users run: the same resize and
normalisation, the same sliding windows, scores normalised over the whole vocabulary
and the same vocabulary handling (`ItemAssignment`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from .labeling import ItemAssignment, label_pixels
from .network import DenseNetwork
from .preprocess import InputTransform
from .windows import preselected_window_logits, window_logits


def input_transform(model: DenseNetwork, size: int | None = None) -> InputTransform:
    """The resize + normalisation of `model`'s inputs (short side `size`, default the
    model's `image_size`)."""
    config = model.config
    return InputTransform(size or config.image_size, model.patch_size, config.mean, config.std)


@dataclass(frozen=True)
class PredictOptions:
    """How `predict_labels` runs; the defaults are `segment()`'s.

    Every count is checked here, once: a value that is not a positive whole number
    raises `InputError` naming the option; `fit(patch_size)` checks what depends on the
    model's patch size.

    Attributes:
        size: short side the images are resized to (None = the model's `image_size`).
        window: sliding-window side (None = `size`); window_step: its step (None = 2/3);
            both multiples of the patch size `p`.
        stride: patch-embedding stride, a divisor of the patch size `p` (None = `p`): the
            model decides on a `(p / stride)^2` times denser grid (see `ViTBackbone`).
        batch_size: at most this many windows per forward pass; None = as many as the
            device's memory budget holds (`windows.memory_budget`).
        k: decoding candidates per patch; None = exact argmax of the upsampled logits.
        autocast_dtype: `torch.bfloat16` (or float16) to run the network under autocast.
        preselect: only the image's top `preselect` image-level classes (each sliding
            window's, united per image; `DenseNetwork.image_logits`) compete at each
            location; in open mode pixels won by another class are unlabeled. None: all.
    """

    size: int | None = None
    window: int | None = None
    window_step: int | None = None
    stride: int | None = None
    batch_size: int | None = None
    k: int | None = 8
    autocast_dtype: torch.dtype | None = None
    preselect: int | None = None

    def __post_init__(self) -> None:
        for name in ("size", "window", "window_step", "stride", "batch_size", "k", "preselect"):
            value = getattr(self, name)
            if value is not None:
                check_count(name, value)

    def fit(self, patch_size: int) -> int:
        """The stride to run at, after checking that `stride` divides `patch_size` and
        that `size`, `window` and `window_step` fit it (`InputError` naming the option)."""
        stride = patch_size if self.stride is None else self.stride
        if patch_size % stride:
            raise InputError(
                f"stride={stride} must be a divisor of the patch size {patch_size} "
                f"(e.g. {patch_size} or {max(1, patch_size // 2)})"
            )
        if self.size is not None and self.size < patch_size:
            raise InputError(f"size={self.size} is smaller than the patch size {patch_size}")
        for name in ("window", "window_step"):
            value = getattr(self, name)
            if value is not None and value % patch_size:
                raise InputError(
                    f"{name}={value} must be a multiple of the patch size {patch_size}"
                )
        return stride


def check_count(name: str, value: object) -> None:
    """Raise `InputError` unless `value` is a positive whole number (bools are not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}={value!r} must be a positive whole number")


def predict_labels(
    model: DenseNetwork,
    images: Sequence[np.ndarray],
    items: ItemAssignment,
    options: PredictOptions | None = None,
    *,
    inputs: Sequence[torch.Tensor] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Item label maps (and confidences) of `images` at their own resolution.

    Args:
        model: the network (a `LarvSegModel` in eval mode, or an exported one run by
            onnxruntime, `larvseg.export.onnx.OnnxNetwork`).
        images: `(H, W, 3)` uint8 RGB arrays (`larvseg.pipeline.image.load_image` output).
        items: which model classes make up each requested item, and the mode.
        options: sizes, windows, stride, batching, decoding (default `PredictOptions()`).
        inputs: the images already made model inputs by `input_transform(model,
            options.size)`, `(3, H', W')` each (e.g. in DataLoader workers); default:
            made here.

    Returns:
        Per image: labels `(H, W)` int32 item indices (-1 = unlabeled) and scores
        `(H, W)` float32, see `label_pixels`.
    """
    options = options or PredictOptions()
    transform = input_transform(model, options.size)
    if inputs is None:
        inputs = [transform(image) for image in images]
    stride = options.fit(model.patch_size)
    device = model.device
    decided = items.decided
    p = model.patch_size
    window = options.window or model.window_size or max(p, round(transform.size / p) * p)
    if model.window_size not in (None, window):
        raise InputError(
            f"window {window}: this network runs in windows of {model.window_size} pixels only"
        )
    keep = None if decided is None else decided.to(device)
    span = model.patch_size // stride
    arrays = [x[None].to(device) for x in inputs]
    if options.preselect is None:
        logits = window_logits(
            model,
            arrays,
            window,
            options.window_step,
            stride=stride,
            keep=keep,
            batch_size=options.batch_size,
            autocast_dtype=options.autocast_dtype,
        )
        return [
            label_pixels(grid, items, image.shape[:2], options.k, span)
            for image, grid in zip(images, logits, strict=True)
        ]
    preselected = preselected_window_logits(
        model,
        arrays,
        window,
        options.preselect,
        options.window_step,
        stride=stride,
        keep=keep,
        batch_size=options.batch_size,
        autocast_dtype=options.autocast_dtype,
        all_kept=items.mode == "open",
    )
    return [
        label_pixels(grid, items.restricted(classes.cpu()), image.shape[:2], options.k, span)
        for image, (grid, classes) in zip(images, preselected, strict=True)
    ]
