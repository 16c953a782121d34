"""Feature-map backbone: a timm CNN (ConvNeXt, BiT, EfficientNetV2) or Swin whose last
feature map is the dense grid."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import BackboneError, InputError
from .features import Features


class MapBackbone(nn.Module):
    """A timm classifier without its head; output is its final feature map.

    `features(x)`: x `(B, 3, H, W)` normalised, H and W multiples of the output stride
    `patch_size` (32 for these families) -> grid `(B, D, H / p, W / p)` and its mean
    `(B, D)`, the vector timm's average-pooling head reads. Cell `i` covers pixels
    `[i p, (i + 1) p)` (its receptive field is wider). The stride is fixed: only `p`.

    Args:
        net: the timm model, its head removed.
        channels_last: whether `forward_features` returns `(B, h, w, D)` (Swin).
    """

    def __init__(self, net: Any, *, channels_last: bool = False) -> None:
        super().__init__()
        self.net = net
        self.channels_last = channels_last
        self.patch_size: int = int(net.feature_info[-1]["reduction"])
        self.width: int = int(net.num_features)
        self.fixed_size: int | None = None  # any multiple of the output stride

    def forward(self, x: torch.Tensor, stride: int | None = None) -> torch.Tensor:
        return self.features(x, stride).grid

    def features(self, x: torch.Tensor, stride: int | None = None) -> Features:
        """The final feature map `(B, D, h, w)` and its spatial mean `(B, D)`."""
        p = self.patch_size
        if stride not in (None, p):
            raise InputError(
                f"stride {stride}: a {type(self.net).__name__} backbone runs at its output "
                f"stride {p} only (a denser stride applies to ViT-family backbones)"
            )
        height, width = x.shape[-2:]
        if height % p or width % p:
            raise BackboneError(
                f"input size {height}x{width} is not a multiple of the output stride {p}"
            )
        out = self.net.forward_features(x)
        grid = out.permute(0, 3, 1, 2) if self.channels_last else out
        return Features(grid, grid.mean(dim=(2, 3)))
