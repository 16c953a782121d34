"""ViT backbone: a timm ViT-family model that turns an image batch into a patch feature grid."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ..errors import BackboneError, InputError
from .features import Features


def check_stride(stride: int, patch_size: int) -> None:
    """Raise `InputError` unless `stride` divides the patch size (1 <= stride <= p)."""
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1 or patch_size % stride:
        raise InputError(
            f"stride {stride!r} must be a positive divisor of the patch size {patch_size} "
            f"(e.g. {patch_size} or {max(1, patch_size // 2)})"
        )


def grid_length(length: int, patch_size: int, stride: int) -> int:
    """Feature cells along a side of `length` pixels: `(length - p) / stride + 1`."""
    return (length - patch_size) // stride + 1


@contextlib.contextmanager
def _conv_stride(conv: nn.Conv2d, stride: int) -> Iterator[None]:
    """Run `conv` with stride `stride` inside the block (restored afterwards)."""
    saved = conv.stride
    conv.stride = (stride, stride)
    try:
        yield
    finally:
        conv.stride = saved


class ViTBackbone(nn.Module):
    """A timm ViT without its head; output is the normed patch-token grid.

    `forward(x, stride)`: x `(B, 3, H, W)` normalised, H and W multiples of `patch_size`
    -> features `(B, D, h, w)` (prefix tokens dropped, final norm applied). At the
    default stride `p`, `h = H / p`; at a stride `s` dividing `p` the patch embedding
    runs over overlapping `p x p` patches every `s` pixels, `h = (H - p) / s + 1`, and
    timm interpolates the position embedding to that denser grid (no retraining).
    Cell `i` covers pixels `[i s, i s + p)`.
    """

    def __init__(self, vit: Any) -> None:
        super().__init__()
        self.vit = vit
        patch = vit.patch_embed.patch_size
        self.patch_size: int = int(patch[0] if isinstance(patch, (tuple, list)) else patch)
        self.num_prefix_tokens: int = int(vit.num_prefix_tokens)
        self.width: int = int(vit.num_features)
        size = vit.patch_embed.img_size
        self.fixed_size: int | None = (
            None if getattr(vit, "dynamic_img_size", False) else int(size[0])
        )
        """The one input side the ViT runs at (BEiT: no position-embedding resizing);
        None: any multiple of the patch size."""

    def forward(self, x: torch.Tensor, stride: int | None = None) -> torch.Tensor:
        return self.features(x, stride).grid

    def features(self, x: torch.Tensor, stride: int | None = None) -> Features:
        """The patch grid `(B, D, h, w)` and timm's pooled vector `(B, D)` (its class
        token, or the mean of the patch tokens for a GAP ViT) of `x` `(B, 3, H, W)`."""
        batch, _, height, width = x.shape
        p = self.patch_size
        if height % p or width % p:
            raise BackboneError(
                f"input size {height}x{width} is not a multiple of the patch size {p}"
            )
        if self.fixed_size is not None and (height, width) != (self.fixed_size,) * 2:
            raise InputError(
                f"input size {height}x{width}: this backbone runs at "
                f"{self.fixed_size}x{self.fixed_size} only (sliding windows of that side)"
            )
        vit: Any = self.vit
        if stride is None or stride == p:
            tokens = vit.forward_features(x)
            stride = p
        else:
            check_stride(stride, p)
            conv = getattr(vit.patch_embed, "proj", None)
            if not isinstance(conv, nn.Conv2d) or self.fixed_size is not None:
                raise BackboneError(
                    f"stride {stride}: this backbone's patch embedding is not a convolution "
                    f"over any input size: it runs at stride {p} only"
                )
            with _conv_stride(conv, stride):
                tokens = vit.forward_features(x)
        rows, cols = grid_length(height, p, stride), grid_length(width, p, stride)
        grid = tokens[:, self.num_prefix_tokens :].reshape(batch, rows, cols, tokens.shape[-1])
        # timm's own pooling (its head's fc_norm was moved out): class token or mean
        return Features(grid.permute(0, 3, 1, 2), vit.forward_head(tokens, pre_logits=True))
