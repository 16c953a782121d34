"""The model training starts from: a timm classifier or a larvseg checkpoint, re-vocabularied.

From a timm classifier (default: the ImageNet-21K ViT-B/16) the cosine model takes the
backbone weights unchanged, identity patch and class projections (so `d = D`), and the
class embedding of every training class whose wnid is a class of the timm head is that
head's weight row. The initial cosine score of a pixel and a matched class is then the
cosine between the normed patch token and the head row. Unmatched classes keep the
random initialisation of `CosineClassifier`. From a larvseg cosine checkpoint everything
is copied and class embeddings are matched by wnid the same way. `scratch_model` builds
a model with random weights (timm's initialisation) instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from ... import hub
from ...config import IMAGENET_MEAN, IMAGENET_STD, ModelConfig
from ...modeling.classifier import LinearClassifier
from ...modeling.model import LarvSegModel
from ...modeling.timm_convert import checkpoint_config, timm_family
from ...vocab.table import wnid_positions
from ..errors import WarmStartError


@dataclass(frozen=True)
class InitReport:
    """Where the weights start and how many training classes got their embedding there.

    Attributes:
        source: the initial checkpoint, or the architecture trained from scratch.
        matched: classes whose embedding was copied (wnid found in the checkpoint).
        total: training classes.
        scratch: True when training starts from random weights (no checkpoint).
    """

    source: str
    matched: int
    total: int
    scratch: bool = False

    def __str__(self) -> str:
        if self.scratch:
            return (
                f"training from scratch: {self.source} with random weights, "
                f"{self.total} class embeddings initialised at random"
            )
        return (
            f"initialised from {self.source}: {self.matched}/{self.total} class embeddings "
            f"from matching wnids, {self.total - self.matched} random"
        )


def input_normalisation(init: str | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Input mean and std of checkpoint `init`, read from its config.json only; for
    `init` None (from scratch) the `ModelConfig` defaults (ImageNet's)."""
    if init is None:
        return IMAGENET_MEAN, IMAGENET_STD
    config = checkpoint_config(hub.read_config(init), init)
    return config.mean, config.std


def build_training_model(
    init: str, classes: list[str], embed_dim: int | None = None, image_size: int = 512
) -> tuple[LarvSegModel, InitReport]:
    """A cosine `LarvSegModel` over `classes` (wnids), initialised from `init`.

    Args:
        init: timm classifier or larvseg checkpoint (folder or hub id).
        classes: training vocabulary, in class-index order.
        embed_dim: cosine width `d`; None = backbone width (timm) or the checkpoint's.
        image_size: inference size recorded in the new model's config.
    """
    family = timm_family(checkpoint_config(hub.read_config(init), init).backbone)
    if not family.trainable:
        raise WarmStartError(
            f"model.init {init!r} is a {family.name} classifier: larvseg-train fine-tunes "
            f"ViT-family models only (the cosine classifier sits on patch tokens); use it for "
            f"inference (`larvseg segment --model {init}`) or start from a ViT"
        )
    source = LarvSegModel.from_pretrained(init)
    head = source.classifier
    if isinstance(head, LinearClassifier):
        model = _from_linear(source, head, classes, embed_dim, image_size, init)
    else:
        model = _from_cosine(source, classes, embed_dim, image_size, init)
    matched = _copy_class_rows(source, model)
    return model.train(), InitReport(init, matched, len(classes))


def scratch_model(
    backbone: str,
    backbone_kwargs: dict[str, Any],
    classes: list[str],
    embed_dim: int | None = None,
    image_size: int = 512,
) -> tuple[LarvSegModel, InitReport]:
    """A cosine `LarvSegModel` over `classes` with random weights (trained from scratch).

    `backbone` and `backbone_kwargs` name a timm ViT architecture and its arguments;
    `embed_dim` None = the backbone width.
    """
    config = ModelConfig(
        backbone=backbone,
        backbone_kwargs=dict(backbone_kwargs),
        classifier="cosine",
        embed_dim=embed_dim,
        categories=list(classes),
        image_size=image_size,
    )
    model = LarvSegModel(config)
    return model.train(), InitReport(backbone, 0, len(classes), scratch=True)


def _from_linear(
    source: LarvSegModel,
    head: LinearClassifier,
    classes: list[str],
    embed_dim: int | None,
    size: int,
    init: str,
) -> LarvSegModel:
    width = source.backbone.width
    if embed_dim not in (None, width):
        raise WarmStartError(
            f"model.embed_dim={embed_dim} but {init!r} is a timm classifier of width {width}: "
            f"its head rows initialise the classes only with embed_dim null or {width}"
        )
    norm: nn.Module = head.norm
    kwargs = dict(source.config.backbone_kwargs)
    if not isinstance(norm, nn.Identity):  # 'avg'-pool models norm in fc_norm: move it
        kwargs["fc_norm"] = False
    config = replace(
        source.config,
        backbone_kwargs=kwargs,
        classifier="cosine",
        embed_dim=width,
        categories=list(classes),
        image_size=size,
    )
    model = LarvSegModel(config)
    state = dict(source.backbone.state_dict())
    if not isinstance(norm, nn.Identity):
        state.update({f"vit.norm.{k}": v for k, v in norm.state_dict().items()})
    model.backbone.load_state_dict(state, strict=True)
    classifier = model.cosine_classifier
    with torch.no_grad():
        classifier.patch_proj.copy_(torch.eye(width))
        classifier.class_proj.copy_(torch.eye(width))
    return model


def _from_cosine(
    source: LarvSegModel, classes: list[str], embed_dim: int | None, size: int, init: str
) -> LarvSegModel:
    config: ModelConfig = source.config
    if embed_dim not in (None, config.embed_dim or source.backbone.width):
        raise WarmStartError(
            f"model.embed_dim={embed_dim} differs from the embedding width of checkpoint {init!r}"
        )
    model = LarvSegModel(replace(config, categories=list(classes), image_size=size))
    state = {k: v for k, v in source.state_dict().items() if k != "classifier.class_embed"}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing != ["classifier.class_embed"] or unexpected:
        raise WarmStartError(
            f"checkpoint {init!r} does not fit its own config: {missing} {unexpected}"
        )
    return model


def _copy_class_rows(source: LarvSegModel, model: LarvSegModel) -> int:
    """Copy the source's class vectors (head rows or embeddings) of shared wnids; count them."""
    positions = torch.from_numpy(wnid_positions(source.config.categories, model.config.categories))
    dst = torch.nonzero(positions >= 0).squeeze(1)
    if dst.numel() == 0:
        return 0
    rows = (
        source.classifier.head.weight
        if isinstance(source.classifier, LinearClassifier)
        else source.cosine_classifier.class_embed
    )
    target = model.cosine_classifier
    with torch.no_grad():
        target.class_embed[dst] = rows.detach()[positions[dst]].to(target.class_embed.dtype)
    return int(dst.numel())
