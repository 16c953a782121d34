"""Evaluation during training: every `eval_every` iterations and at the end of the run.

The model is scored on `data.eval_sources` exactly as `larvseg-train eval`
scores it (`evaluate`: `segment()`'s pipeline, mIoU all / base / novel; base =
`data.base_classes`, else every class listed by a training segmentation source). The
selection score is the mean over the evaluation sources of `best_metric`; the best
model so far is exported to
`OUTPUT_DIR/best/` with `best.json` saying which score, at which iteration.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import torch

from ...evaluation.runner import evaluate
from ...modeling.model import LarvSegModel
from ..config import TrainConfig
from ..data.dataset import SourceDataset, build_dataset
from ..errors import TrainConfigError
from ..evaluation.runner import base_classes
from .checkpoint import export_model

BEST_DIR = "best"
BEST_FILE = "best.json"
METRIC_NAMES = {"miou": "mIoU", "miou_base": "base", "miou_novel": "novel"}


def source_metrics(
    model: LarvSegModel,
    dataset: SourceDataset,
    base: AbstractSet[str],
    device: torch.device,
    allow_uncovered: bool = False,
) -> dict[str, float | None]:
    """mIoU (all / base / novel) and pixel accuracy of `model` on one evaluation source,
    None where undefined; a progress bar on a terminal only. `allow_uncovered`: as in
    `evaluate` (config `data.allow_uncovered`)."""
    name = dataset.config.name
    result = evaluate(
        model,
        dataset,
        base,
        device=device,
        allow_uncovered=allow_uncovered,
        progress=sys.stderr.isatty(),
        name=name,
    )
    values = {
        "miou": result.miou,
        "miou_base": result.miou_base,
        "miou_novel": result.miou_novel,
        "pixel_accuracy": result.pixel_accuracy,
    }
    return {k: None if v is None or math.isnan(v) else float(v) for k, v in values.items()}


def resolve_metric(best_metric: str, classes: Iterable[str], base: AbstractSet[str]) -> str:
    """The metric `best_metric` selects by: "auto" is `miou_novel` when some evaluated
    class is novel (no masks in training), else `miou`. `TrainConfigError` when the
    chosen split has no class."""
    classes = set(classes)
    has = {"miou": bool(classes), "miou_base": bool(classes & base)}
    has["miou_novel"] = bool(classes - base)
    if best_metric == "auto":
        return "miou_novel" if has["miou_novel"] else "miou"
    if not has[best_metric]:
        split = "novel" if best_metric == "miou_novel" else "base"
        raise TrainConfigError(
            f"best_metric {best_metric}: data.eval_sources have no {split} class (base = "
            "data.base_classes, else the classes of the training segmentation sources); "
            "use auto or miou"
        )
    return best_metric


class PeriodicEvaluator:
    """Scores a model on the evaluation sources and remembers the best score.

    Attributes:
        datasets: the evaluation sources, read without augmentation.
        base: base wnids (`larvseg.train.evaluation.runner.base_classes`).
        allow_uncovered: `data.allow_uncovered`: score classes no model category covers.
        metric: the resolved `best_metric`.
        best: `{"metric", "value", "iteration"}` of the best evaluation so far, or None
            (plain data: stored in training checkpoints).
    """

    def __init__(self, config: TrainConfig, mean: Sequence[float], std: Sequence[float]) -> None:
        self.base = base_classes(config).wnids
        self.allow_uncovered = config.data.allow_uncovered
        self.datasets = [
            build_dataset(source, mean, std, train=False) for source in config.data.eval_sources
        ]
        classes = [wnid for dataset in self.datasets for wnid in dataset.classes]
        self.metric = resolve_metric(config.best_metric, classes, self.base)
        self.best: dict[str, Any] | None = None

    def restore(self, best: dict[str, Any] | None) -> None:
        """Continue from a checkpoint's best (ignored if it was selected by another metric)."""
        if best is not None and best["metric"] == self.metric:
            self.best = dict(best)

    def evaluate(
        self, model: LarvSegModel, iteration: int, device: torch.device
    ) -> tuple[dict[str, float | None], bool]:
        """Score `model` (left in eval mode); returns the logged values and whether this
        is the best evaluation so far.

        Values: `eval/<source>/<miou|miou_base|miou_novel|pixel_accuracy>` and
        `eval/<metric>`, the selection score (mean over the sources where defined).
        """
        values: dict[str, float | None] = {}
        scores = []
        for dataset in self.datasets:
            metrics = source_metrics(model, dataset, self.base, device, self.allow_uncovered)
            values.update({f"eval/{dataset.config.name}/{k}": v for k, v in metrics.items()})
            score = metrics[self.metric]
            if score is not None:
                scores.append(score)
        score = sum(scores) / len(scores) if scores else None
        values[f"eval/{self.metric}"] = score
        improved = score is not None and (self.best is None or score > self.best["value"])
        if improved:
            self.best = {"metric": self.metric, "value": score, "iteration": iteration}
        return values, improved

    def summary(self, iteration: int, values: dict[str, float | None]) -> str:
        """One log line: every source's mIoU all / base / novel, and the best so far."""
        parts = []
        for dataset in self.datasets:
            name = dataset.config.name
            shown = " | ".join(
                f"{label} {_percent(values[f'eval/{name}/{key}'])}"
                for key, label in METRIC_NAMES.items()
            )
            parts.append(f"{name} {shown}")
        best = (
            "none yet"
            if self.best is None
            else f"{_percent(self.best['value'])} at iteration {self.best['iteration']}"
        )
        return f"eval {iteration}: {'; '.join(parts)}; best {self.metric} {best}"


def export_best(model: LarvSegModel, output_dir: Path, best: dict[str, Any]) -> Path:
    """Export `model` to `output_dir/best/` (config.json, model.safetensors, best.json)."""
    target = output_dir / BEST_DIR
    export_model(model, target, {BEST_FILE: json.dumps(best, indent=2) + "\n"})
    return target


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"
