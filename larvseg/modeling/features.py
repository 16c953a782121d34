"""`Features`: what a network's backbone hands to its dense and image-level classifiers."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Features:
    """Per-location features and the image-level vector that travels with them.

    Attributes:
        grid: `(B, D, h, w)` per-location features (`h = (H - p) / stride + 1`).
        image: `(B, D)` the image-level vector the network's own image classifier reads
            (class token or pooled features); None where the network has none.
    """

    grid: torch.Tensor
    image: torch.Tensor | None = None
