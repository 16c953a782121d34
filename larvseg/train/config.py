"""Training configuration: the schema (typed dataclasses) and its YAML files.

Every field is documented in docs/training.md. Reading goes through
`larvseg.dataclass_io.read_dataclass`: unknown keys, wrong types and bad values are a
`TrainConfigError` naming the dotted key (e.g. `optim.lr`). This module imports
neither torch nor the data stack, so reading a config (and `larvseg-train --help`)
is fast; `larvseg.train.schema` reads files, applies `--set` overrides and lists
the keys.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..atomic import write_text
from ..config import PAPER_INIT
from ..dataclass_io import read_dataclass, to_plain
from ..errors import DataError
from ..vocab.benchmarks import BENCHMARK_PREFIX
from .errors import TrainConfigError

SAMPLING_AUTO_THRESHOLD = 4096
EAGER_CHECK_LIMIT = 50_000
"""`data.validate: auto` checks sources of at most this many samples before training."""
SOURCE_KINDS = ("segmentation", "multilabel", "singlelabel")
LABEL_DECODERS = ("ade20k_full",)
SourceKind = Literal["segmentation", "multilabel", "singlelabel"]
DATA_PATH_KEYS = ("images", "annotations", "labels_file", "classes")
"""Source fields that may be paths: relative ones are read from the data root."""
RENAMED_KEYS = {("ca", "top5"): "background_topk"}
"""Old config keys still read (with a warning): (section, old name) -> new name."""


@dataclass
class DataSourceConfig:
    """One data source. See docs/training-data.md for every field and its formats."""

    name: str
    kind: SourceKind
    images: str
    annotations: str | None = None
    labels_file: str | None = None
    classes: list[str | None] | str | None = None
    reduce_zero_label: bool = False
    label_decoder: str | None = None
    image_suffix: str = ".jpg"
    label_suffix: str = ".png"
    crop_size: int = 512
    cat_max_ratio: float = 0.75
    batch_size: int = 2
    loss_weight: float = 1.0
    aux_weight: float = 0.0
    format: Literal["files", "webdataset", "hf"] = "files"

    def __post_init__(self) -> None:
        where = f"data source {self.name!r}"
        if self.kind not in SOURCE_KINDS:
            raise DataError(f"{where}: kind must be one of {list(SOURCE_KINDS)}, got {self.kind!r}")
        if self.format != "files" and (
            self.kind == "segmentation" or self.annotations or self.labels_file
        ):
            raise DataError(
                f"{where}: format {self.format} holds image-level samples (kind singlelabel "
                "or multilabel, no annotations or labels_file)"
            )
        if self.kind == "segmentation" and not self.annotations:
            raise DataError(f"{where}: a segmentation source needs `annotations` (label maps)")
        if (
            self.kind == "multilabel"
            and self.format == "files"
            and bool(self.annotations) == bool(self.labels_file)
        ):
            raise DataError(f"{where}: give exactly one of `annotations` or `labels_file`")
        named = isinstance(self.classes, str) and self.classes.startswith(BENCHMARK_PREFIX)
        if named and self.reduce_zero_label:
            raise DataError(
                f"{where}: classes {self.classes} maps the label values as stored "
                "(ADE-150: value 0 = 'other' is already no class); remove reduce_zero_label"
            )
        if self.label_decoder not in (None, *LABEL_DECODERS):
            raise DataError(f"{where}: label_decoder must be one of {list(LABEL_DECODERS)}")
        for key in ("crop_size", "batch_size"):
            if getattr(self, key) < 1:
                raise DataError(f"{where}: {key} must be >= 1, got {getattr(self, key)}")
        for key in ("loss_weight", "aux_weight"):
            if getattr(self, key) < 0:
                raise DataError(f"{where}: {key} must be >= 0, got {getattr(self, key)}")
        if not 0 < self.cat_max_ratio <= 1:
            raise DataError(f"{where}: cat_max_ratio must be in (0, 1], got {self.cat_max_ratio}")


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
        classes: the training vocabulary (wnids, class-index order), as a list or a
            class-list file (one wnid per line, as the sources' `classes`); None = the
            union of the sources' classes, in source order.
        image_size: inference size written into the exported model's config.
    """

    init: str | None = PAPER_INIT
    backbone: str = "vit_base_patch16_224"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    embed_dim: int | None = None
    classes: list[str] | str | None = None
    image_size: int = 512


@dataclass
class DataSection:
    """Data sources, each contributing `batch_size` samples to every step.

    Attributes:
        sources: the training sources.
        eval_sources: segmentation sources `larvseg-train eval` measures (e.g. ADE-150 val);
            empty = the training segmentation sources. With `eval_every` they are
            also measured during training (empty: no evaluation during training).
        num_workers: data-loader worker processes.
        root: the data root: every relative path of this section (sources' images,
            annotations, labels_file, classes files; a base_classes file) is read from
            it. None = `$LARVSEG_DATA` where set, else the current directory
            (`larvseg.train.schema.with_data_root` applies it).
        base_classes: the base classes evaluation reports apart from novel ones (a list
            of wnids, a file of them, `benchmark:NAME`, or the paper's split: `paper:NAME`,
            or `paper` when every evaluation source is `classes: benchmark:NAME` of one
            ADE benchmark); None = every class listed by a training segmentation source
            (the output says it was inferred).
        allow_uncovered: evaluation (during training and `larvseg-train eval`) scores classes
            that cover no model category (never predicted, IoU 0 where they occur)
            instead of stopping with an error.
        index_dir: where source listings are cached (null = list every start).
        validate: check every sample before training ("eager", once per listing), only
            as it is read ("lazy"), or eager for sources of at most 50,000 samples
            ("auto").
        bad_samples: a sample that cannot be read is logged and skipped ("skip") or
            stops the run ("fail").
    """

    sources: list[DataSourceConfig] = field(default_factory=list)
    eval_sources: list[DataSourceConfig] = field(default_factory=list)
    num_workers: int = 0
    root: str | None = None
    base_classes: list[str | None] | str | None = None
    allow_uncovered: bool = False
    # Start-up at scale (docs/training-data.md, "Listing, index and checks"):
    index_dir: str | None = "~/.cache/larvseg/index"
    validate: Literal["auto", "eager", "lazy"] = "auto"
    bad_samples: Literal["skip", "fail"] = "skip"

    def check_upfront(self, num_samples: int) -> bool:
        """Whether a source of `num_samples` samples is checked in full before training."""
        if self.validate == "auto":
            return num_samples <= EAGER_CHECK_LIMIT
        return self.validate == "eager"


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
    """CA-Classifier (docs/method.md) for image-level sources.

    Attributes:
        enabled: use the CA-Classifier's auxiliary loss on image-level sources.
        bank_size: updates kept per category (M).
        topk: pixels per bank update (K).
        score_threshold: background rule: mean of the top `background_topk` pixel
            scores a class needs to count as present.
        diff_threshold: background rule: standardised map difference above which a
            present class counts as background.
        background_topk: pixels averaged by the background rule's score (was `top5`).
    """

    enabled: bool = True
    bank_size: int = 20
    topk: int = 20
    score_threshold: float = 0.35
    diff_threshold: float = 2.0
    background_topk: int = 5


@dataclass
class ClassSamplingSection:
    """Score only present classes plus `num_sample_class` random others (docs/method.md).

    `enabled`: True, False or "auto" (on for sources with more than 4096 classes).
    """

    enabled: bool | Literal["auto"] = "auto"
    num_sample_class: int = 100


@dataclass
class TrainConfig:
    """The whole training run; see docs/training.md for every field.

    `eval_every`: evaluate on `data.eval_sources` every this many iterations and at the
    end (0 = never during training); the best model by `best_metric` ("auto" =
    `miou_novel` when some evaluated class is novel, else `miou`) goes to
    `OUTPUT_DIR/best/`.
    """

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
    eval_every: int = 0
    best_metric: Literal["auto", "miou", "miou_base", "miou_novel"] = "auto"
    tensorboard: bool = False

    def __post_init__(self) -> None:
        positive = {
            "optim.iterations": self.optim.iterations,
            "checkpoint_every": self.checkpoint_every,
            "keep_checkpoints": self.keep_checkpoints,
            "log_every": self.log_every,
            "ca.bank_size": self.ca.bank_size,
            "ca.topk": self.ca.topk,
            "ca.background_topk": self.ca.background_topk,
            "class_sampling.num_sample_class": self.class_sampling.num_sample_class,
        }
        for key, value in positive.items():
            if value <= 0:
                raise TrainConfigError(f"{key} must be positive, got {value}")
        if self.eval_every < 0:
            raise TrainConfigError(f"eval_every must be >= 0 (0 = off), got {self.eval_every}")
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
        return to_plain(self)

    def dump(self, path: str | Path) -> None:
        """Write the configuration as YAML (atomically, `larvseg.atomic`)."""
        write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build and validate from a parsed YAML mapping (renamed keys read with a warning)."""
        return read_dataclass(cls, _renamed(data), error=TrainConfigError)


def _renamed(data: Any) -> Any:
    """`data` with renamed keys under their new names; a `FutureWarning` for each old one."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for (section, old), new in RENAMED_KEYS.items():
        part = data.get(section)
        if isinstance(part, dict) and old in part and new in part:
            raise TrainConfigError(
                f"config gives both {section}.{old} and {section}.{new}; keep only {section}.{new}"
            )
        if isinstance(part, dict) and old in part:
            warnings.warn(
                f"config key {section}.{old} is renamed {section}.{new}; please update the file",
                FutureWarning,
                stacklevel=3,
            )
            part = {(new if key == old else key): value for key, value in part.items()}
            data[section] = part
    return data
