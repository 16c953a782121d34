"""timm classifiers as dense larvseg models: every timm-specific rule in one place.

A timm checkpoint (as `timm.models.save_for_hf` writes it and the `timm/...` hub
repositories hold) is a `config.json` with an `architecture` key plus
`model.safetensors`. Its classification head becomes a per-patch `LinearClassifier`
with the same weights: the logits of a patch equal timm's head applied to that
patch token. A larvseg checkpoint's `config.json` is a `ModelConfig`;
`checkpoint_config` tells the two apart (the one place that does).
"""

from __future__ import annotations

from typing import Any

import torch
from timm.data import ImageNetInfo, infer_imagenet_subset
from torch import nn

from ..config import IMAGENET_MEAN, IMAGENET_STD, ModelConfig
from ..errors import BackboneError, CheckpointError, ConfigError
from .backbone import ViTBackbone
from .classifier import LinearClassifier

TIMM_CONFIG_KEY = "architecture"
"""The key that marks a timm `config.json` (a larvseg one never has it)."""


def is_timm_config(raw: dict[str, Any]) -> bool:
    """Whether a parsed `config.json` is timm's (else it is a larvseg `ModelConfig`)."""
    return TIMM_CONFIG_KEY in raw


def checkpoint_config(raw: dict[str, Any], source: str) -> ModelConfig:
    """The `ModelConfig` of a parsed `config.json`, timm's or larvseg's.

    Raises:
        CheckpointError: the config is neither a valid larvseg config nor a usable
            timm classifier config; the message names `source`.
    """
    try:
        return config_from_timm(raw) if is_timm_config(raw) else ModelConfig.from_dict(raw)
    except (KeyError, TypeError, ConfigError) as err:
        raise CheckpointError(f"config.json of {source!r} is invalid: {err}") from err


def timm_categories(config: dict[str, Any]) -> list[str]:
    """wnids of a timm classifier's classes: its `label_names`, or timm's ImageNet lists."""
    labels = config.get("label_names")
    if isinstance(labels, list) and all(isinstance(x, str) for x in labels):
        return list(labels)
    subset = infer_imagenet_subset(config)
    if subset is None:
        raise CheckpointError(
            f"cannot name the {config.get('num_classes')} classes of timm model "
            f"{config.get(TIMM_CONFIG_KEY)!r}: it has no label_names and its class count "
            f"matches no ImageNet list (21843, 21841, 11821, 1000, ...)"
        )
    return list(ImageNetInfo(subset).label_names())


def config_from_timm(config: dict[str, Any]) -> ModelConfig:
    """A linear-classifier `ModelConfig` for a timm `config.json`."""
    pretrained = config.get("pretrained_cfg", {})
    input_size = pretrained.get("input_size", [3, 224, 224])
    return ModelConfig(
        backbone=config[TIMM_CONFIG_KEY],
        backbone_kwargs={
            key: value
            for key, value in config.get("model_args", {}).items()
            if key not in ("num_classes", "dynamic_img_size")  # set by larvseg
        },
        classifier="linear",
        categories=timm_categories(config),
        image_size=int(input_size[-1]),
        mean=tuple(pretrained.get("mean", IMAGENET_MEAN)),
        std=tuple(pretrained.get("std", IMAGENET_STD)),
    )


def timm_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a timm classifier's tensors: head and `fc_norm` go to the dense classifier.

    The tensors are the same objects (no copy).
    """
    renamed = {}
    for key, value in state.items():
        if key.startswith("head."):
            renamed["classifier." + key] = value
        elif key.startswith("fc_norm."):
            renamed["classifier.norm." + key.removeprefix("fc_norm.")] = value
        else:
            renamed["backbone.vit." + key] = value
    return renamed


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
