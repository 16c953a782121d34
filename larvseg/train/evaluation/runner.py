"""Evaluation (docs/method.md): single scale, sliding windows, no CRF, mIoU all/base/novel.

Every image goes through `segment()`'s own pipeline (`ClassPredictor`): resized so
its short side is `size` (default the model's `image_size`), scored by overlapping
`window x window` crops (step 2/3 of the window), normalised over the model's whole
vocabulary and decoded over the benchmark's classes, each covering its hyponyms.
Metrics are in `metrics.py`: mIoU over all, base and novel classes, pixel accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from ...modeling.model import LarvSegModel
from ...pipeline.predict import PredictOptions
from ..config import DataSourceConfig, TrainConfig
from ..data.dataset import build_dataset
from ..data.formats import IGNORE_INDEX, read_class_list
from ..errors import EvaluationError
from .metrics import ConfusionMatrix, EvalResult
from .predict import ClassPredictor


class EvalDataset(Protocol):
    """What `evaluate` reads, as `build_dataset(..., train=False)` gives it.

    `classes`: the dataset's classes (wnids) in label order; `read(i)`: image `i` as
    `(H, W, 3)` uint8 RGB and its target `(H, W)` int64 class indices (`IGNORE_INDEX`
    (-1) = ignore), or None for an unreadable image (skipped).
    """

    classes: list[str]

    def __len__(self) -> int: ...

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray | None] | None: ...


def base_flags(wnids: Sequence[str], base: set[str] | Sequence[bool]) -> list[bool]:
    """Base flag of each evaluated class, from a set of base wnids or one flag per class."""
    if isinstance(base, (set, frozenset)):
        return [wnid in base for wnid in wnids]
    flags = [bool(b) for b in base]
    if len(flags) != len(wnids):
        raise EvaluationError(f"base has {len(flags)} flags for {len(wnids)} evaluated classes")
    return flags


def evaluate(
    model: LarvSegModel,
    dataset: EvalDataset,
    base: set[str] | Sequence[bool],
    *,
    options: PredictOptions | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    name: str = "",
) -> EvalResult:
    """mIoU (all / base / novel), pixel accuracy and per-class IoU of `model` on `dataset`.

    Args:
        model: the model; put in eval mode on `device`.
        dataset: the images and targets; target value `k` is `dataset.classes[k]`.
        base: the base wnids, or one flag per class of the dataset.
        options: sizes, sliding windows, patch stride and decoding candidates, as
            `segment()` runs them (default `PredictOptions()`: the model's size, windows of
            that size stepping 2/3 of it, the patch stride, k = 8).
        device: where the model runs.
        progress: show a tqdm bar.
        name: dataset name shown in the result.
    """
    classes = list(dataset.classes)
    flags = base_flags(classes, base)
    model.eval().to(device)
    predictor = ClassPredictor(model, classes, options, source=name)
    confusion = ConfusionMatrix(len(classes), IGNORE_INDEX)
    skipped = 0
    for index in tqdm(range(len(dataset)), desc=f"eval {name}".strip(), disable=not progress):
        item = dataset.read(index)
        target = None if item is None else item[1]
        if item is None or target is None:
            skipped += 1
            continue
        confusion.update(predictor(item[0]), target)
    names = [category.name for category in predictor.items]
    return EvalResult.from_confusion(
        confusion, classes, flags, names, dataset=name, skipped=skipped
    )


@dataclass(frozen=True)
class EvalReport:
    """The results of every evaluated data source, in configuration order."""

    results: list[EvalResult]

    def __str__(self) -> str:
        return "\n\n".join(result.format_table() for result in self.results)

    def to_json(self, indent: int | None = 2) -> str:
        """`{source name: EvalResult.to_dict()}` as JSON text."""
        return json.dumps({r.dataset: r.to_dict() for r in self.results}, indent=indent)


def base_wnids(training: Sequence[DataSourceConfig]) -> set[str]:
    """Every wnid of the class lists of the training segmentation sources (no file scan)."""
    base: set[str] = set()
    for source in training:
        classes = read_class_list(source.classes, f"data source {source.name!r}")
        if classes is None:
            raise EvaluationError(
                f"data source {source.name!r}: segmentation sources need `classes` "
                "(label value -> wnid) to tell base classes from novel ones"
            )
        base.update(w for w in classes if w)
    return base


def run_evaluation(
    config: TrainConfig,
    checkpoint: str | None = None,
    *,
    sources: Sequence[DataSourceConfig] | None = None,
    options: PredictOptions | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> EvalReport:
    """Evaluate a trained model on segmentation data (what `larvseg-train --eval-only` runs).

    Args:
        config: the training configuration; its segmentation sources define the base
            classes (every wnid with masks in training).
        checkpoint: model folder or hub id; default `OUTPUT_DIR/model`.
        sources: the data to evaluate on; default the configuration's segmentation
            sources (read without augmentation, at original resolution).
        options: as in `evaluate`.
        device: default CUDA when available, else CPU.
        progress: show a progress bar per source.
    """
    model = LarvSegModel.from_pretrained(checkpoint or str(Path(config.output_dir) / "model"))
    mean, std = model.config.mean, model.config.std
    training = [s for s in config.data.sources if s.kind == "segmentation"]
    base = base_wnids(training)
    sources = training if sources is None else list(sources)
    if not sources:
        raise EvaluationError(
            "nothing to evaluate: the configuration has no segmentation source in data.sources"
        )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    results = []
    for source in sources:
        dataset = build_dataset(source, mean, std, train=False)
        results.append(
            evaluate(
                model,
                dataset,
                base,
                options=options,
                device=device,
                progress=progress,
                name=source.name,
            )
        )
    return EvalReport(results)
