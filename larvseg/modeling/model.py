"""The segmentation network: ViT backbone + dense classifier, built from a `ModelConfig`."""

from __future__ import annotations

from typing import Any

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .backbone import BackboneError, ViTBackbone, create_timm_vit
from .classifier import CosineClassifier, LinearClassifier
from .config import ModelConfig


def split_timm_vit(vit: Any) -> tuple[ViTBackbone, LinearClassifier]:
    """Detach a timm ViT's pre-logits norm and head into a per-patch `LinearClassifier`.

    The returned backbone shares the ViT's modules (no copy); its `fc_norm` and
    `head` are replaced by identities.
    """
    if getattr(vit, "global_pool", "token") == "map":
        raise BackboneError(
            "this timm model pools with attention ('map'); its head cannot be applied per patch"
        )
    head = vit.get_classifier()
    if not isinstance(head, nn.Linear):
        raise BackboneError(f"expected a linear classification head, found {type(head).__name__}")
    norm = getattr(vit, "fc_norm", nn.Identity())
    vit.fc_norm = nn.Identity()
    vit.reset_classifier(0)
    return ViTBackbone(vit), LinearClassifier(norm, head)


class LarvSegModel(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="larvseg",
    repo_url="https://github.com/larvseg/larvseg",
    tags=["image-segmentation", "larvseg"],
):
    """ViT backbone plus a cosine or linear dense classifier.

    `forward(x)`: normalised batch `(B, 3, H, W)` (H, W multiples of `patch_size`)
    -> logits `(B, C, H / p, W / p)` over all `C = config.num_classes` categories.
    """

    def __init__(self, config: ModelConfig | dict[str, Any]) -> None:
        super().__init__()
        if isinstance(config, dict):  # from config.json, via the hub mixin
            config = ModelConfig.from_dict(config)
        self.config = config
        classifier: CosineClassifier | LinearClassifier
        if config.classifier == "linear":
            vit = create_timm_vit(config.backbone, config.backbone_kwargs, config.num_classes)
            self.backbone, classifier = split_timm_vit(vit)
        else:
            vit = create_timm_vit(config.backbone, config.backbone_kwargs, 0)
            self.backbone = ViTBackbone(vit)
            width = self.backbone.width
            classifier = CosineClassifier(width, config.embed_dim or width, config.num_classes)
        self.classifier = classifier

    @property
    def patch_size(self) -> int:
        return self.backbone.patch_size

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Patch features `(B, D, H / p, W / p)` of a normalised batch `(B, 3, H, W)`."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor, class_indices: torch.Tensor | None = None) -> torch.Tensor:
        """Logits `(B, C', H / p, W / p)` over all classes or over `class_indices` `(C',)`."""
        return self.classifier(self.backbone(x), class_indices)
