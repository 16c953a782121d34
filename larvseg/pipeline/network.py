"""`DenseNetwork`: what the prediction path runs.

`LarvSegModel` is one; an exported model run by onnxruntime
(`larvseg.export.onnx.OnnxNetwork`) is another, so both go through the same resize,
normalisation, sliding windows and decoding.
"""

from __future__ import annotations

from typing import Protocol

import torch

from ..config import ModelConfig


class DenseNetwork(Protocol):
    """A network from a normalised batch to logits at feature resolution.

    `network(x)`: `(B, 3, H, W)` float32 (H, W multiples of `patch_size`) -> logits
    `(B, C, H / p, W / p)` over all `C = config.num_classes` categories.
    """

    @property
    def config(self) -> ModelConfig:
        """The categories, input size and normalisation."""
        ...

    @property
    def patch_size(self) -> int:
        """Side `p` of the patches, in pixels."""
        ...

    @property
    def device(self) -> torch.device:
        """Where inputs must be."""
        ...

    def __call__(self, x: torch.Tensor, class_indices: torch.Tensor | None = None) -> torch.Tensor:
        """Logits over all classes, or over `class_indices` `(C',)`."""
        ...
