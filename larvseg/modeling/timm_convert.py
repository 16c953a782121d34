"""timm classifiers as dense larvseg models: every timm-specific rule in one place.

A timm checkpoint (as `timm.models.save_for_hf` writes it and the `timm/...` hub
repositories hold) is a `config.json` with an `architecture` key plus
`model.safetensors`. Its classification head becomes a per-patch `LinearClassifier`
with the same weights: the logits of a patch equal timm's head applied to that
patch token. A larvseg checkpoint's `config.json` is a `ModelConfig`;
`checkpoint_config` tells the two apart (the one place that does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import timm
import torch
from timm.data import ImageNetInfo, infer_imagenet_subset
from timm.layers import LayerNorm2d, SelectAdaptivePool2d
from torch import nn

from ..config import IMAGENET_MEAN, IMAGENET_STD, ModelConfig
from ..errors import BackboneError, CheckpointError, ConfigError
from .backbone import ViTBackbone
from .classifier import LinearClassifier
from .map_backbone import MapBackbone

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


@dataclass(frozen=True)
class Family:
    """How larvseg runs one family of timm classifiers densely.

    Attributes:
        name: the family's name in messages and docs.
        modules: the `timm.models` modules whose models belong to it.
        layout: what `forward_features` returns: "tokens" `(B, N, D)` (prefix tokens
            first), "NCHW" or "NHWC" feature maps.
        dynamic_size: whether timm builds it for any input size
            (`dynamic_img_size=True`); CNNs take any size anyway, a fixed-size family
            runs in windows of its pretrained size.
        pooling: how its head pools the locations (docs).
        trainable: whether `larvseg-train` can fine-tune it (a ViT with the cosine
            classifier); the others are inference-only.
    """

    name: str
    modules: tuple[str, ...]
    layout: Literal["tokens", "NCHW", "NHWC"]
    dynamic_size: bool
    pooling: str
    trainable: bool = False


FAMILIES = (
    Family(
        "ViT",
        ("vision_transformer", "deit", "eva"),
        "tokens",
        True,
        "class token or mean",
        trainable=True,
    ),
    Family("BEiT", ("beit",), "tokens", False, "mean + norm"),
    Family("Swin", ("swin_transformer",), "NHWC", True, "mean"),
    Family("ConvNeXt", ("convnext",), "NCHW", False, "mean + norm"),
    Family("BiT", ("resnetv2",), "NCHW", False, "mean"),
    Family("EfficientNet", ("efficientnet",), "NCHW", False, "mean"),
)
"""The timm families whose classifiers larvseg makes dense."""


def timm_family(name: str) -> Family:
    """The family of timm architecture `name`.

    Raises:
        BackboneError: timm does not know `name`, or its family is not supported.
    """
    try:
        module = timm.models.model_entrypoint(name).__module__.rsplit(".", 1)[-1]
    except (RuntimeError, KeyError) as err:
        raise BackboneError(f"timm has no architecture {name!r}") from err
    for family in FAMILIES:
        if module in family.modules:
            return family
    supported = ", ".join(family.name for family in FAMILIES)
    raise BackboneError(
        f"timm architecture {name!r} (timm.models.{module}) is not a supported family ({supported})"
    )


def create_timm_model(
    name: str, kwargs: dict[str, Any], num_classes: int, *, init_weights: bool = True
) -> nn.Module:
    """Create timm model `name` with random weights, sized for any input where its family
    allows (ViTs and Swin: `dynamic_img_size=True`).

    `init_weights=False` skips timm's weight initialisation where the model has the
    switch (timm's `VisionTransformer`: `weight_init="skip"`), for weights that are
    about to be replaced by a checkpoint's.

    Raises:
        BackboneError: if timm does not know `name`, its family is not supported, or it
            does not accept `kwargs`.
    """
    family = timm_family(name)
    dynamic = {"dynamic_img_size": True} if family.dynamic_size else {}
    skip = {} if init_weights else {"weight_init": "skip"}
    try:
        return timm.create_model(
            name, pretrained=False, num_classes=num_classes, **{**dynamic, **skip, **kwargs}
        )
    except TypeError as err:
        if skip:  # a model without the switch: build it as usual
            return create_timm_model(name, kwargs, num_classes)
        raise BackboneError(
            f"timm model {name!r} does not accept the arguments {sorted(kwargs)}: {err}"
        ) from err
    except RuntimeError as err:
        raise BackboneError(f"timm cannot build backbone {name!r}: {err}") from err


def _module_name(model: nn.Module, module: nn.Module) -> str:
    return next(name for name, found in model.named_modules() if found is module)


def _average_pooling(model: nn.Module, name: str) -> None:
    """`BackboneError` unless every timm global pool of `model` averages."""
    for module in model.modules():
        if isinstance(module, SelectAdaptivePool2d) and module.pool_type != "avg":
            raise BackboneError(
                f"timm model {name!r} pools with {module.pool_type!r}, not the average: "
                "its head cannot be applied per location"
            )


def split_timm_classifier(
    model: Any, name: str
) -> tuple[ViTBackbone | MapBackbone, LinearClassifier, dict[str, str]]:
    """Detach a timm classifier's head (its pre-logits norm and linear layer) into a
    per-location `LinearClassifier`; the rest is the backbone.

    The norm is ViTs' and BEiT's `fc_norm` (a GAP ViT's) or ConvNeXt's `head.norm`;
    elsewhere the head is the linear layer alone. The returned backbone shares the
    model's modules (no copy); the head's modules are replaced by identities.

    Returns:
        The backbone, the classifier, and how the timm checkpoint's tensor names map to
        the model's (`timm_state_dict`): prefix -> prefix, "" for the backbone.
    """
    family = timm_family(name)
    if getattr(model, "attn_pool", None) is not None:
        raise BackboneError(
            f"timm model {name!r} pools with attention ('map'); its head cannot be applied "
            "per location"
        )
    _average_pooling(model, name)
    head = model.get_classifier()
    if not isinstance(head, (nn.Linear, nn.Conv2d)):
        raise BackboneError(f"expected a linear classification head, found {type(head).__name__}")
    norm: nn.Module = nn.Identity()
    prefixes = {_module_name(model, head) + ".": "classifier.head."}
    owner = model if family.layout == "tokens" else getattr(model, "head", None)
    attr = "fc_norm" if family.layout == "tokens" else "norm"
    if isinstance(getattr(owner, attr, None), nn.Module):
        norm = getattr(owner, attr)
        if not isinstance(norm, nn.Identity):
            prefixes[_module_name(model, norm) + "."] = "classifier.norm."
        setattr(owner, attr, nn.Identity())
    if not isinstance(
        getattr(getattr(model, "head", None), "pre_logits", nn.Identity()), nn.Identity
    ):
        raise BackboneError(f"timm model {name!r} has a hidden layer before its head")
    model.reset_classifier(0)
    backbone: ViTBackbone | MapBackbone
    if family.layout == "tokens":
        backbone, prefixes[""] = ViTBackbone(model), "backbone.vit."
    else:
        channels_last = family.layout == "NHWC"
        backbone, prefixes[""] = MapBackbone(model, channels_last=channels_last), "backbone.net."
    return backbone, LinearClassifier(channels_last_norm(norm), head), prefixes


def channels_last_norm(norm: nn.Module) -> nn.Module:
    """`norm` over the last dimension: ConvNeXt's channels-first `LayerNorm2d` becomes the
    `nn.LayerNorm` with the same parameters (shared, not copied)."""
    if not isinstance(norm, LayerNorm2d):
        return norm
    plain = nn.LayerNorm(norm.normalized_shape, eps=norm.eps, device=norm.weight.device)
    plain.weight, plain.bias = norm.weight, norm.bias
    return plain


def timm_state_dict(
    state: dict[str, torch.Tensor], prefixes: dict[str, str]
) -> dict[str, torch.Tensor]:
    """Rename a timm classifier's tensors to the dense model's by `prefixes` (from
    `split_timm_classifier`): head and norm go to the classifier, the rest to the backbone.

    The tensors are the same objects (no copy).
    """
    renamed = {}
    for key, value in state.items():
        prefix = next((p for p in prefixes if p and key.startswith(p)), "")
        renamed[prefixes[prefix] + key.removeprefix(prefix)] = value
    return renamed
