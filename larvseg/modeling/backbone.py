"""ViT backbone: a timm model that turns an image batch into a patch feature grid."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import timm
import torch
from torch import nn

from ..errors import BackboneError, InputError
from .features import Features


def create_timm_vit(
    name: str, kwargs: dict[str, Any], num_classes: int, *, init_weights: bool = True
) -> nn.Module:
    """Create a timm ViT-family model with dynamic input size and random weights.

    `init_weights=False` skips timm's weight initialisation where the model has the
    switch (timm's `VisionTransformer`: `weight_init="skip"`), for weights that are
    about to be replaced by a checkpoint's.

    Raises:
        BackboneError: if timm does not know `name` or the model is not ViT-like.
    """
    skip = {} if init_weights else {"weight_init": "skip"}
    try:
        model = timm.create_model(
            name,
            pretrained=False,
            num_classes=num_classes,
            dynamic_img_size=True,
            **{**skip, **kwargs},
        )
    except RuntimeError as err:  # timm raises RuntimeError("Unknown model ...")
        raise BackboneError(f"timm cannot build backbone {name!r}: {err}") from err
    except TypeError as err:
        if skip:  # a ViT-family model without the switch: build it as usual
            return create_timm_vit(name, kwargs, num_classes)
        raise BackboneError(
            f"timm model {name!r} is not a ViT-family model with dynamic image size "
            f"(or does not accept the arguments {sorted(kwargs)}): {err}"
        ) from err
    for attr in ("forward_features", "patch_embed", "num_prefix_tokens"):
        if not hasattr(model, attr):
            raise BackboneError(f"timm model {name!r} has no {attr!r}: not a plain ViT")
    return model


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
        vit: Any = self.vit
        if stride is None or stride == p:
            tokens = vit.forward_features(x)
            stride = p
        else:
            check_stride(stride, p)
            conv = getattr(vit.patch_embed, "proj", None)
            if not isinstance(conv, nn.Conv2d):
                raise BackboneError(
                    f"this backbone's patch embedding is not a convolution: it runs at "
                    f"stride {p} only"
                )
            with _conv_stride(conv, stride):
                tokens = vit.forward_features(x)
        rows, cols = grid_length(height, p, stride), grid_length(width, p, stride)
        grid = tokens[:, self.num_prefix_tokens :].reshape(batch, rows, cols, tokens.shape[-1])
        return Features(grid.permute(0, 3, 1, 2), vit.pool(tokens))
