"""ViT backbone: a timm model that turns an image batch into a patch feature grid."""

from __future__ import annotations

from typing import Any

import timm
import torch
from torch import nn

from ..errors import BackboneError


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


class ViTBackbone(nn.Module):
    """A timm ViT without its head; output is the normed patch-token grid.

    `forward(x)`: x `(B, 3, H, W)` normalised, H and W multiples of `patch_size`
    -> features `(B, D, H / p, W / p)` (prefix tokens dropped, final norm applied).
    """

    def __init__(self, vit: Any) -> None:
        super().__init__()
        self.vit = vit
        patch = vit.patch_embed.patch_size
        self.patch_size: int = int(patch[0] if isinstance(patch, (tuple, list)) else patch)
        self.num_prefix_tokens: int = int(vit.num_prefix_tokens)
        self.width: int = int(vit.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        p = self.patch_size
        if height % p or width % p:
            raise BackboneError(
                f"input size {height}x{width} is not a multiple of the patch size {p}"
            )
        vit: Any = self.vit
        tokens = vit.forward_features(x)[:, self.num_prefix_tokens :]
        grid = tokens.reshape(batch, height // p, width // p, tokens.shape[-1])
        return grid.permute(0, 3, 1, 2)
