"""Segmentation metrics: a confusion matrix and mIoU over all, base and novel classes.

Conventions (those of mmseg, which the paper's numbers come from):

- IoU of class `c` = `TP / (TP + FP + FN)` over the pixels of the whole dataset.
- A class with no ground-truth pixel and no predicted pixel has an undefined IoU
  (NaN) and is left out of every mean; a class that is predicted but never in the
  ground truth has IoU 0 and counts.
- Pixels whose target is the ignore index (`IGNORE_INDEX`, -1) are not counted at all.
- Pixel accuracy = correctly labelled pixels / counted pixels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ..data.formats import IGNORE_INDEX


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
class ClassIoU:
    """One row of the per-class table.

    Attributes:
        wnid: the class's WordNet id.
        name: its synset name ("dog.n.01"), or "" when unknown.
        iou: intersection over union, NaN when the class is absent from target and prediction.
        base: True for a base class (has masks in the training data), False for novel.
        pixels: ground-truth pixels of the class.
    """

    wnid: str
    name: str
    iou: float
    base: bool
    pixels: int


@dataclass(frozen=True)
class EvalResult:
    """Metrics of one evaluated dataset (fractions in [0, 1]).

    `miou_base` / `miou_novel` are None when no base / novel class has a defined IoU;
    `skipped` counts unreadable images left out.
    """

    miou: float
    miou_base: float | None
    miou_novel: float | None
    pixel_accuracy: float
    per_class: list[ClassIoU]
    dataset: str = ""
    skipped: int = 0

    @classmethod
    def from_confusion(
        cls,
        confusion: ConfusionMatrix,
        wnids: Sequence[str],
        base: Sequence[bool],
        names: Sequence[str] | None = None,
        dataset: str = "",
        skipped: int = 0,
    ) -> EvalResult:
        """Summarise a confusion matrix whose class `k` is `wnids[k]` (base if `base[k]`)."""
        k = confusion.num_classes
        if len(wnids) != k or len(base) != k or (names is not None and len(names) != k):
            raise ValueError(f"wnids, base and names must each have {k} entries (one per class)")
        iou = confusion.iou()
        pixels = confusion.target_pixels()
        is_base = np.asarray(base, dtype=bool)
        miou = _mean(iou)
        rows = [
            ClassIoU(wnid, names[i] if names is not None else "", float(iou[i]), bool(b), int(n))
            for i, (wnid, b, n) in enumerate(zip(wnids, is_base, pixels, strict=True))
        ]
        return cls(
            miou=math.nan if miou is None else miou,
            miou_base=_mean(iou[is_base]),
            miou_novel=_mean(iou[~is_base]),
            pixel_accuracy=confusion.pixel_accuracy(),
            per_class=rows,
            dataset=dataset,
            skipped=skipped,
        )

    def format_table(self) -> str:
        """Summary lines plus one row per class (IoU in percent, '-' when undefined)."""
        head = f"evaluation of {self.dataset}" if self.dataset else "evaluation"
        lines = [
            f"{head}: mIoU {_pct(self.miou)} | base {_pct(self.miou_base)} | "
            f"novel {_pct(self.miou_novel)} | pixel accuracy {_pct(self.pixel_accuracy)}"
            + (f" | {self.skipped} unreadable images skipped" if self.skipped else ""),
            f"{'wnid':<10}  {'name':<28}  {'split':<5}  {'IoU':>6}  {'pixels':>12}",
        ]
        for row in self.per_class:
            split = "base" if row.base else "novel"
            lines.append(
                f"{row.wnid:<10}  {row.name[:28]:<28}  {split:<5}  {_pct(row.iou):>6}  "
                f"{row.pixels:>12,}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; undefined values (NaN) become None."""
        return _nan_to_none(asdict(self))

    def to_json(self, indent: int | None = 2) -> str:
        """`to_dict()` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)


def _mean(values: np.ndarray) -> float | None:
    """Mean over the defined (non-NaN) values, None when there is none."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else None


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value
