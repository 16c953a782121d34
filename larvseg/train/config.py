"""Training configuration: dataclasses read from YAML plus `--set key=value` overrides.

Every field is documented in docs/training.md. Unknown keys, wrong types and bad
values are a `TrainConfigError` naming the dotted key (e.g. `optim.lr`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..hub import DEFAULT_MODEL
from .data import DataSourceConfig

SAMPLING_AUTO_THRESHOLD = 4096


class TrainConfigError(ValueError):
    """A training configuration that is malformed; the message names the key."""


@dataclass
class ModelSection:
    """The model to train.

    Attributes:
        init: where the weights start: a timm classifier (hub id or folder; default the
            ImageNet-21K ViT-B/16) or a larvseg checkpoint (hub id or folder); None =
            from scratch (random weights of `backbone`).
        backbone: timm architecture trained from scratch (only with `init` None).
        backbone_kwargs: `timm.create_model` arguments of that architecture (e.g.
            depth, embed_dim, patch_size; only with `init` None).
        embed_dim: cosine embedding width `d`; None = the backbone width (required when
            starting from a timm classifier, whose head rows initialise the classes).
        classes: the training vocabulary (wnids, class-index order); None = the union of
            the sources' classes, in source order.
        image_size: inference size written into the exported model's config.
    """

    init: str | None = DEFAULT_MODEL
    backbone: str = "vit_base_patch16_224"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    embed_dim: int | None = None
    classes: list[str] | None = None
    image_size: int = 512


@dataclass
class DataSection:
    """Data sources, each contributing `batch_size` samples to every step.

    `eval_sources`: segmentation sources `--eval-only` measures (e.g. ADE-150 val);
    empty = the training segmentation sources.
    """

    sources: list[DataSourceConfig] = field(default_factory=list)
    eval_sources: list[DataSourceConfig] = field(default_factory=list)
    num_workers: int = 0


@dataclass
class OptimSection:
    """SGD (the paper's) or AdamW, with a poly learning-rate schedule stepped by iteration.

    `name`: "sgd" (uses `momentum`) or "adamw" (betas 0.9/0.999; for training from
    scratch, where plain SGD barely moves a ViT in a short run).
    """

    name: Literal["sgd", "adamw"] = "sgd"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    power: float = 0.9
    min_lr: float = 1e-5
    iterations: int = 320_000
    grad_clip: float | None = None


@dataclass
class CASection:
    """CA-Classifier (method.md section 3) for image-level sources."""

    enabled: bool = True
    bank_size: int = 20
    topk: int = 20
    score_threshold: float = 0.35
    diff_threshold: float = 2.0
    top5: int = 5


@dataclass
class ClassSamplingSection:
    """Score only present classes plus `num_sample_class` random others (method.md 4b).

    `enabled`: True, False or "auto" (on for sources with more than 4096 classes).
    """

    enabled: bool | Literal["auto"] = "auto"
    num_sample_class: int = 100


@dataclass
class TrainConfig:
    """The whole training run; see docs/training.md for every field."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    ca: CASection = field(default_factory=CASection)
    class_sampling: ClassSamplingSection = field(default_factory=ClassSamplingSection)
    precision: Literal["bf16", "fp32"] = "bf16"
    seed: int = 0
    output_dir: str = "runs/larvseg"
    checkpoint_every: int = 5000
    keep_checkpoints: int = 2
    log_every: int = 50
    tensorboard: bool = False

    def __post_init__(self) -> None:
        positive = {
            "optim.iterations": self.optim.iterations,
            "checkpoint_every": self.checkpoint_every,
            "keep_checkpoints": self.keep_checkpoints,
            "log_every": self.log_every,
            "ca.bank_size": self.ca.bank_size,
            "ca.topk": self.ca.topk,
            "class_sampling.num_sample_class": self.class_sampling.num_sample_class,
        }
        for key, value in positive.items():
            if value <= 0:
                raise TrainConfigError(f"{key} must be positive, got {value}")
        if self.optim.lr <= 0 or self.optim.min_lr < 0:
            raise TrainConfigError("optim.lr must be positive and optim.min_lr non-negative")
        names = [source.name for source in self.data.sources]
        if len(set(names)) != len(names):
            raise TrainConfigError(f"data.sources have duplicate names: {names}")

    def sampling_on(self, num_classes: int) -> bool:
        """Whether a source with `num_classes` classes scores a sample of them per step."""
        enabled = self.class_sampling.enabled
        return num_classes > SAMPLING_AUTO_THRESHOLD if enabled == "auto" else bool(enabled)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists, not tuples) that `from_dict` reads back."""
        return _plain(dataclasses.asdict(self))

    def dump(self, path: str | Path) -> None:
        """Write the configuration as YAML."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build and validate from a parsed YAML mapping."""
        config = _build(cls, data, "")
        assert isinstance(config, TrainConfig)
        return config

    @classmethod
    def load(
        cls, path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()
    ) -> TrainConfig:
        """Read a YAML file (None = all defaults) and apply `key.path=value` overrides."""
        data: Any = {}
        if path is not None:
            try:
                data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as err:
                raise TrainConfigError(f"cannot read config {str(path)!r}: {err}") from err
            if not isinstance(data, dict):
                raise TrainConfigError(f"config {str(path)!r} must be a YAML mapping")
        for override in overrides:
            apply_override(data, override)
        return cls.from_dict(data)


def describe_keys() -> list[str]:
    """`key = default` for every configurable key, data source fields included."""
    lines: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            else:
                shown = (
                    "[] (list of data sources, fields below)"
                    if f.name.endswith("sources")
                    else repr(value)
                )
                lines.append(f"{prefix}{f.name} = {shown}")

    walk(TrainConfig(), "")
    for f in dataclasses.fields(DataSourceConfig):
        missing = f.default is dataclasses.MISSING
        lines.append(f"data.sources.N.{f.name} = {'(required)' if missing else repr(f.default)}")
    return lines


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set `a.b.0.c=value` in a nested dict/list; the value is parsed as a YAML scalar."""
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise TrainConfigError(f"override {override!r} is not of the form key.path=value")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise TrainConfigError(f"override {override!r}: value is not valid YAML: {err}") from err
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise TrainConfigError(f"override {key!r}: {where!r} is not an index of the list")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise TrainConfigError(f"override {key!r}: {where!r} is inside a scalar")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _build(cls: type, data: Any, path: str) -> Any:
    """Construct dataclass `cls` from a mapping, checking keys and value types."""
    if not isinstance(data, dict):
        raise TrainConfigError(f"{path or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in data:
        if key not in names:
            raise TrainConfigError(
                f"unknown config key {path + str(key)!r}; expected one of {names}"
            )
    kwargs = {key: _coerce(value, hints[key], path + key) for key, value in data.items()}
    try:
        return cls(**kwargs)
    except TrainConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise TrainConfigError(f"{path.rstrip('.') or 'config'}: {err}") from err


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Check `value` against annotation `tp`, building nested dataclasses."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build(tp, value, path + ".")
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _coerce(value, option, path)
            except TrainConfigError:
                continue
        raise TrainConfigError(f"{path}: {value!r} does not fit {tp}")
    if origin is Literal:
        if value not in args:
            raise TrainConfigError(f"{path} must be one of {list(args)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise TrainConfigError(f"{path} must be a list, got {value!r}")
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{path}.{i}") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise TrainConfigError(f"{path} must be a mapping, got {value!r}")
        key_tp, value_tp = args or (Any, Any)
        return {
            _coerce(k, key_tp, f"{path}.{k}"): _coerce(v, value_tp, f"{path}.{k}")
            for k, v in value.items()
        }
    if tp is type(None):
        if value is not None:
            raise TrainConfigError(f"{path} must be null, got {value!r}")
        return None
    if tp is float and not isinstance(value, bool):
        try:  # YAML 1.1 reads `1e-3` (no dot) as a string
            return float(value)
        except (TypeError, ValueError):
            raise TrainConfigError(f"{path} must be a number, got {value!r}") from None
    if tp in (int, float, str, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise TrainConfigError(f"{path} must be {tp.__name__}, got {value!r}")
        return value
    return value
