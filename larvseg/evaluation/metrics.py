"""Segmentation metrics: a confusion matrix and mIoU over all, base and novel classes.

Conventions (those of mmseg, which the paper's numbers come from):

- IoU of class `c` = `TP / (TP + FP + FN)` over the pixels of the whole dataset.
- A class with no ground-truth pixel and no predicted pixel has an undefined IoU
  (NaN) and is left out of every mean; a class that is predicted but never in the
  ground truth has IoU 0 and counts.
- Pixels whose target is the ignore index (`IGNORE_INDEX`, -1) are not counted at all.
- Pixel accuracy = correctly labelled pixels / counted pixels; the accuracy of class `c`
  = its correctly labelled pixels / its ground-truth pixels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch

from .labelmaps import IGNORE_INDEX


class ConfusionMatrix:
    """Pixel counts `(K, K)` int64: row = ground-truth class, column = predicted class.

    Args:
        num_classes: number of evaluated classes `K`.
        ignore_index: target value of pixels that are not counted.
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        if num_classes <= 0:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, pred: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> None:
        """Count one image: `pred` and `target` `(H, W)` integer class indices in `[0, K)`.

        Target pixels equal to `ignore_index` are skipped; any other value outside
        `[0, K)` in either map is an error.
        """
        pred_np, target_np = _as_int_array(pred, "pred"), _as_int_array(target, "target")
        if pred_np.shape != target_np.shape:
            raise ValueError(
                f"pred shape {pred_np.shape} differs from target shape {target_np.shape}"
            )
        keep = target_np != self.ignore_index
        pred_np, target_np = pred_np[keep], target_np[keep]
        for name, values in (("pred", pred_np), ("target", target_np)):
            bad = (values < 0) | (values >= self.num_classes)
            if bad.any():
                raise ValueError(
                    f"{name} has value {int(values[bad][0])} outside [0, {self.num_classes}) "
                    f"(and not the ignore index {self.ignore_index})"
                )
        counts = np.bincount(target_np * self.num_classes + pred_np, minlength=self.num_classes**2)
        self.matrix += counts.reshape(self.num_classes, self.num_classes)

    def iou(self) -> np.ndarray:
        """Per-class IoU `(K,)` float64; NaN where the class is neither in target nor prediction."""
        tp = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / union, np.nan)

    def pixel_accuracy(self) -> float:
        """Correct pixels / counted pixels (NaN when nothing was counted)."""
        total = int(self.matrix.sum())
        return float(np.trace(self.matrix)) / total if total else math.nan

    def accuracy(self) -> np.ndarray:
        """Per-class accuracy `(K,)` float64: correct share of each class's ground-truth
        pixels; NaN where the class has none."""
        pixels = self.target_pixels()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(pixels > 0, np.diag(self.matrix) / pixels, np.nan)

    def target_pixels(self) -> np.ndarray:
        """Ground-truth pixel count of each class `(K,)` int64."""
        return self.matrix.sum(1)


def _as_int_array(values: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) map, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class indices, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


@dataclass(frozen=True)
class ClassScore:
    """One row of the per-class table.

    Attributes:
        wnid: the class's WordNet id.
        name: its synset name ("dog.n.01"); the wnid where no WordNet at hand knows it.
        base: True for a base class (masks in training), False for a novel one.
        iou: intersection over union, NaN when the class is absent from target and prediction.
        accuracy: correctly labelled share of its ground-truth pixels, NaN without any.
        pixels: ground-truth pixels of the class.
    """

    wnid: str
    name: str
    base: bool
    iou: float
    accuracy: float
    pixels: int


@dataclass(frozen=True)
class EvalResult:
    """Metrics of one evaluated dataset (fractions in [0, 1]).

    Attributes:
        miou, miou_base, miou_novel: mean IoU over all / base / novel classes with a
            defined IoU; `miou_base` / `miou_novel` are None when no such class has one.
        pixel_accuracy: correct pixels / counted pixels.
        per_class: one row per evaluated class, in class order.
        confusion: `(K, K)` int64 pixel counts, row = ground truth, column = prediction.
        dataset: the dataset's name.
        split: how base and novel classes were decided.
        uncovered: wnids of the classes that cover no model category (never predicted).
        images: images evaluated; skipped: images left out (unreadable, or a label map
            that does not fit); skipped_files: each as `{"path", "reason"}`.
        seconds: wall time of the evaluation loop.
    """

    miou: float
    miou_base: float | None
    miou_novel: float | None
    pixel_accuracy: float
    per_class: list[ClassScore]
    confusion: np.ndarray
    dataset: str = ""
    split: str = ""
    uncovered: list[str] = field(default_factory=list)
    images: int = 0
    skipped: int = 0
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def from_confusion(
        cls,
        confusion: ConfusionMatrix,
        wnids: Sequence[str],
        base: Sequence[bool],
        names: Sequence[str] | None = None,
        *,
        dataset: str = "",
        split: str = "",
        uncovered: Sequence[str] = (),
        images: int = 0,
        skipped: int = 0,
        skipped_files: Sequence[dict[str, str]] = (),
        seconds: float = 0.0,
    ) -> EvalResult:
        """Summarise a confusion matrix whose class `k` is `wnids[k]` (base if `base[k]`).

        `names` default to the wnids; the other arguments are the fields of that name.
        """
        k = confusion.num_classes
        names = list(wnids) if names is None else list(names)
        if len(wnids) != k or len(base) != k or len(names) != k:
            raise ValueError(f"wnids, base and names must each have {k} entries (one per class)")
        iou, accuracy = confusion.iou(), confusion.accuracy()
        pixels = confusion.target_pixels()
        is_base = np.asarray(base, dtype=bool)
        miou = _mean(iou)
        rows = [
            ClassScore(wnid, name or wnid, bool(b), float(i), float(a), int(n))
            for wnid, name, b, i, a, n in zip(
                wnids, names, is_base, iou, accuracy, pixels, strict=True
            )
        ]
        return cls(
            miou=math.nan if miou is None else miou,
            miou_base=_mean(iou[is_base]),
            miou_novel=_mean(iou[~is_base]),
            pixel_accuracy=confusion.pixel_accuracy(),
            per_class=rows,
            confusion=confusion.matrix.copy(),
            dataset=dataset,
            split=split,
            uncovered=list(uncovered),
            images=images,
            skipped=skipped,
            skipped_files=list(skipped_files),
            seconds=seconds,
        )

    def format_table(self) -> str:
        """Summary lines plus one row per class (percentages with '%', '-' when undefined,
        where the JSON has fractions in [0, 1]); classes
        that cover no model category are marked '*'."""
        head = f"evaluation of {self.dataset}" if self.dataset else "evaluation"
        lines = [
            f"{head}: mIoU {_pct(self.miou)} | base {_pct(self.miou_base)} | "
            f"novel {_pct(self.miou_novel)} | pixel accuracy {_pct(self.pixel_accuracy)}",
        ]
        if self.split:
            lines.append(f"base / novel: {self.split}")
        if self.uncovered:
            lines.append(
                f"* {len(self.uncovered)} classes cover no model category and are never "
                "predicted (their IoU is 0 where they occur)"
            )
        if self.images or self.skipped:
            rate = self.images / self.seconds if self.seconds > 0 else math.nan
            lines.append(
                f"{self.images:,} images in {self.seconds:.1f} s ({rate:.2f} images/s)"
                + (f", {self.skipped} images skipped" if self.skipped else "")
            )
        lines += [f"  skipped {s['path']}: {s['reason']}" for s in self.skipped_files]
        uncovered = set(self.uncovered)
        lines.append(
            f"{'wnid':<10}  {'name':<28}  {'split':<6}  {'IoU':>7}  {'acc':>7}  {'pixels':>12}"
        )
        for row in self.per_class:
            split = ("base" if row.base else "novel") + ("*" if row.wnid in uncovered else "")
            lines.append(
                f"{row.wnid:<10}  {row.name[:28]:<28}  {split:<6}  {_pct(row.iou):>7}  "
                f"{_pct(row.accuracy):>7}  {row.pixels:>12,}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (docs/evaluation.md): undefined values (NaN) become None, the
        confusion matrix a list of rows."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "per_class"}
        data["per_class"] = [asdict(row) for row in self.per_class]
        data["confusion"] = self.confusion.tolist()
        return _nan_to_none(data)

    def to_json(self, indent: int | None = 2) -> str:
        """`to_dict()` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)


def _mean(values: np.ndarray) -> float | None:
    """Mean over the defined (non-NaN) values, None when there is none."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else None


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.2f}%"


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value
