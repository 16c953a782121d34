"""Preprocessing: resize an RGB image to the model's scale and normalise it.

`normalize` is the one normalisation of larvseg: inference, evaluation and the
training pipeline all turn pixels into model inputs with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..errors import InputError


def model_input_size(height: int, width: int, short_side: int, patch_size: int) -> tuple[int, int]:
    """Size `(H', W')` with the short side at `short_side` and both sides multiples of the patch.

    The aspect ratio is kept up to the rounding to whole patches (at most half a patch).
    """
    if short_side < patch_size:
        raise InputError(f"short side {short_side} is smaller than the patch size {patch_size}")
    scale = short_side / min(height, width)

    def snap(length: int) -> int:
        return max(patch_size, round(length * scale / patch_size) * patch_size)

    return snap(height), snap(width)


def resize_to_model(image: np.ndarray, short_side: int, patch_size: int) -> np.ndarray:
    """Resize `(H, W, 3)` uint8 RGB bilinearly to `model_input_size(...)` (as is if already so)."""
    height, width = image.shape[:2]
    new_height, new_width = model_input_size(height, width, short_side, patch_size)
    if (new_height, new_width) == (height, width):
        return image
    resized = Image.fromarray(image).resize(
        (new_width, new_height), Image.Resampling.BILINEAR, reducing_gap=3.0
    )
    return np.asarray(resized)


def normalize(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """RGB pixels `(H, W, 3)`, uint8 or float in [0, 255] -> float32 `(3, H, W)`:
    `(x / 255 - mean) / std`."""
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (tensor / 255.0 - mean_t) / std_t


@dataclass(frozen=True)
class InputTransform:
    """Pixels -> model input for one model: resize (short side `size`, whole patches),
    then `normalize`. Plain data, so DataLoader worker processes can run it."""

    size: int
    patch_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        """`(H, W, 3)` uint8 RGB -> `(3, H', W')` float32 on CPU."""
        return normalize(resize_to_model(image, self.size, self.patch_size), self.mean, self.std)
