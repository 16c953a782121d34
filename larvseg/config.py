"""Model configuration: what `config.json` of a larvseg checkpoint holds."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from . import __version__
from .dataclass_io import read_dataclass
from .errors import ConfigError

ClassifierKind = Literal["cosine", "linear"]
CLASSIFIER_KINDS: tuple[str, ...] = ("cosine", "linear")

DEFAULT_MODEL = "timm/beitv2_base_patch16_224.in1k_ft_in22k"
"""The out-of-the-box model: timm's ImageNet-22K BEiT v2 classifier (a ViT-B/16 whose head
was trained on the mean of the patch tokens), its head applied to every patch. Chosen by
the training-free toy experiment (docs/weights.md): mean-pooled classifiers segment
2.5-3.4x better than class-token ones."""

PAPER_INIT = "timm/vit_base_patch16_224.augreg_in21k"
"""The paper's starting point, and `larvseg-train`'s default `model.init`: timm's
ImageNet-21K ViT-B/16 (class token), whose plain ViT backbone the method fine-tunes."""

DATA_ROOT_ENV = "LARVSEG_DATA"
"""Environment variable naming the folder datasets are read from (training sources,
`larvseg eval --root`), unless a path or `--data-root` says otherwise."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ModelConfig:
    """Everything needed to rebuild a larvseg model, serialised as `config.json`.

    Attributes:
        backbone: timm model name of a ViT-family backbone (e.g. "vit_base_patch16_224").
        backbone_kwargs: extra keyword arguments for `timm.create_model`.
        classifier: "cosine" (LarvSeg's cosine classifier with score normalisation) or
            "linear" (a classification head applied to every patch token).
        embed_dim: width `d` of the cosine classifier's embedding space; None means the
            backbone width. Ignored for "linear".
        categories: the model's classes in class-index order, as WordNet 3.0 wnids.
        image_size: inference size in pixels: the short side is resized to it and
            sliding windows are `image_size x image_size`.
        mean: per-channel RGB mean of the input normalisation (inputs in [0, 1]).
        std: per-channel RGB standard deviation of the input normalisation.
        larvseg_version: the larvseg version that wrote the checkpoint (`save_pretrained`
            sets it; None for configs made in memory or written before 0.2.0). A
            checkpoint from a newer major version is refused with a `ConfigError`.
    """

    backbone: str = "vit_base_patch16_224"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    classifier: ClassifierKind = "cosine"
    embed_dim: int | None = None
    categories: list[str] = field(default_factory=list)
    image_size: int = 512
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    larvseg_version: str | None = None

    def __post_init__(self) -> None:
        if self.classifier not in CLASSIFIER_KINDS:
            raise ConfigError(f"classifier={self.classifier!r} is not one of {CLASSIFIER_KINDS}")
        if not self.categories:
            raise ConfigError("categories is empty: a model needs at least one class (wnid)")
        if len(set(self.categories)) != len(self.categories):
            raise ConfigError("categories contains duplicate wnids")
        if self.image_size <= 0:
            raise ConfigError(f"image_size must be positive, got {self.image_size}")
        if self.embed_dim is not None and self.embed_dim < 0:
            raise ConfigError(
                "embed_dim must be positive (or 0 or null: the backbone width), got "
                f"{self.embed_dim}"
            )
        check_backbone_kwargs(self.backbone_kwargs)
        self.mean = _triple(self.mean, "mean")
        self.std = _triple(self.std, "std")
        if not all(math.isfinite(v) for v in (*self.mean, *self.std)):
            raise ConfigError(f"mean and std must be finite, got {self.mean} and {self.std}")
        if min(self.std) <= 0:
            raise ConfigError(f"std must be positive, got {self.std}")
        if self.larvseg_version is not None:
            check_version(self.larvseg_version)

    @property
    def num_classes(self) -> int:
        """Number of classes `C`."""
        return len(self.categories)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        data = dataclasses.asdict(self)
        data["mean"] = list(self.mean)
        data["std"] = list(self.std)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a dict such as a parsed `config.json`; unknown keys and values of the
        wrong type are a `ConfigError` naming the key."""
        return read_dataclass(cls, data, error=ConfigError)


POSITIVE_BACKBONE_KWARGS = ("embed_dim", "num_heads", "patch_size", "img_size", "mlp_ratio")
"""timm arguments that must be positive numbers when a config sets them, one number or one
per stage (Swin's `num_heads`, `embed_dim`), and `depth`/`depths` at least 0 (no blocks)."""


def check_backbone_kwargs(kwargs: dict[str, Any]) -> None:
    """`ConfigError` naming the key when a ViT size in `backbone_kwargs` is impossible (not
    positive, or `num_heads` not dividing `embed_dim`), before timm fails obscurely."""
    for key in POSITIVE_BACKBONE_KWARGS:
        value = kwargs.get(key)
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise ConfigError(f"backbone_kwargs.{key} must be a positive number, got {value!r}")
    for key in ("depth", "depths"):
        value = kwargs.get(key)
        for depth in value if isinstance(value, (list, tuple)) else [value]:
            if depth is not None and (
                isinstance(depth, bool) or not isinstance(depth, int) or depth < 0
            ):
                raise ConfigError(f"backbone_kwargs.{key} must be integers >= 0, got {value!r}")
    width, heads = kwargs.get("embed_dim"), kwargs.get("num_heads")
    if isinstance(width, int) and isinstance(heads, int) and width % heads:
        raise ConfigError(
            f"backbone_kwargs.num_heads={heads} does not divide backbone_kwargs.embed_dim="
            f"{width}: each attention head takes embed_dim / num_heads channels"
        )


def _triple(value: Any, name: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be 3 numbers (R, G, B), got {value!r}") from None
    if len(values) != 3:
        raise ConfigError(f"{name} must have 3 values (R, G, B), got {len(values)}")
    return values[0], values[1], values[2]


def major_version(version: str) -> int | None:
    """The major number of a version string ("1.4.0" -> 1), None when it has none."""
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def check_version(written_by: str) -> None:
    """`ConfigError` when a checkpoint comes from a newer major larvseg version than this one."""
    theirs, ours = major_version(written_by), major_version(__version__)
    if theirs is not None and ours is not None and theirs > ours:
        raise ConfigError(
            f"this checkpoint was written by larvseg {written_by}, a newer major version than "
            f"the installed larvseg {__version__}; its format may differ. Upgrade with "
            "`pip install -U larvseg`"
        )
