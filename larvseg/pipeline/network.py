"""`DenseNetwork`: the whole contract between the prediction path and a network.

A network is run at two levels. `features(x, stride)` runs the backbone once per batch
of windows; `classify(grid)` turns a band of feature rows into logits over all classes
(the sliding-window code calls it band by band so that the logits of dense grids stay
within a budget); `image_logits(features)` scores the whole crop at once, from the
image-level vector (class token or pooled features) that travels with the grid in
`Features`.

`LarvSegModel` implements the contract directly. A network that only runs whole (an
exported model run by onnxruntime, `larvseg.export.onnx.OnnxNetwork`) subclasses
`WholeNetwork`, whose "features" are its logits; both go through the same resize,
normalisation, sliding windows and decoding.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

import torch

from ..config import ModelConfig
from ..errors import InputError
from ..modeling.features import Features

__all__ = ["DenseNetwork", "Features", "WholeNetwork"]


class DenseNetwork(Protocol):
    """A network from a normalised batch to logits at feature resolution.

    `classify(features(x, stride).grid)`: `(B, 3, H, W)` float32 (H, W multiples of
    `patch_size`) -> logits `(B, C, h, w)` over all `C = config.num_classes` categories,
    `h = (H - p) / stride + 1` (`H / p` at the default stride `p`).
    """

    @property
    def config(self) -> ModelConfig:
        """The categories, input size and normalisation."""
        ...

    @property
    def patch_size(self) -> int:
        """Side `p` of the cells of the feature grid at the default stride, in pixels."""
        ...

    @property
    def device(self) -> torch.device:
        """Where inputs must be."""
        ...

    @property
    def window_size(self) -> int | None:
        """The one window side the network runs at (a fixed-size backbone such as BEiT);
        None: any multiple of `patch_size`."""
        ...

    def features(self, x: torch.Tensor, stride: int) -> Features:
        """Features of a normalised batch `(B, 3, H, W)` at `stride` (a divisor of `p`);
        `InputError` for a stride the network cannot run at."""
        ...

    def classify(self, grid: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
        """Logits `(B, C, h', w)` of all classes at each location of `grid` `(B, D, h', w)`
        (all of `Features.grid` or a band of its rows; the result does not depend on how
        the rows are banded); with `classes` `(C',)`, those columns of them only
        `(B, C', h', w)`, as cheaply as the network can."""
        ...

    def image_logits(self, features: Features) -> torch.Tensor:
        """Image-level logits `(B, C)` of the crops `features` came from; `InputError`
        where the network has no image-level classifier."""
        ...


class WholeNetwork(ABC):
    """A `DenseNetwork` for a network that only runs whole, `network(x)` -> logits
    `(B, C, H / p, W / p)`: its features are its logits, at stride `p` only."""

    @property
    @abstractmethod
    def patch_size(self) -> int:
        """Side `p` of the patches, in pixels."""

    @abstractmethod
    def __call__(self, x: torch.Tensor, class_indices: torch.Tensor | None = None) -> torch.Tensor:
        """Logits `(B, C, H / p, W / p)` of a normalised batch `(B, 3, H, W)`."""

    @property
    def window_size(self) -> int | None:
        """Any size."""
        return None

    def features(self, x: torch.Tensor, stride: int) -> Features:
        """The logits, as a grid; `InputError` at a stride other than `p`."""
        if stride != self.patch_size:
            raise InputError(
                f"stride {stride}: this network runs at its patch size {self.patch_size} only"
            )
        return Features(self(x))

    def classify(self, grid: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
        """The grid is already logits."""
        return grid if classes is None else grid[:, classes]

    def image_logits(self, features: Features) -> torch.Tensor:
        """Refused: the whole network yields no image-level logits."""
        raise InputError(
            "this network runs whole and has no image-level logits (preselect needs the "
            "PyTorch model)"
        )
