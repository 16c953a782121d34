"""Evaluation (docs/evaluation.md): single scale, sliding windows, no CRF, mIoU all/base/novel.

Every image goes through `segment()`'s own pipeline (`ClassPredictor`): resized so
its short side is `size` (default the model's `image_size`), scored by overlapping
`window x window` crops (stride 2/3 of the window), normalised over the model's whole
vocabulary and decoded over the benchmark's classes, each covering its hyponyms.
Metrics are in `metrics.py`: mIoU over all, base and novel classes, pixel accuracy.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from ..atomic import write_text
from ..errors import DataError, EvaluationError, VocabularyError
from ..modeling.model import LarvSegModel
from ..vocab.benchmarks import PAPER_PREFIX, paper_base_wnids
from .labelmaps import IGNORE_INDEX, class_wnids
from .metrics import ConfusionMatrix, EvalResult
from .predict import DEFAULT_OPTIONS, ClassPredictor, PredictOptions


@dataclass(frozen=True)
class Skipped:
    """An image left out of an evaluation: the file that could not be used, and why."""

    path: str
    reason: str


Item = tuple[np.ndarray, np.ndarray | None] | Skipped | None


class EvalDataset(Protocol):
    """What `evaluate` reads (`larvseg.evaluation.datasets`, or a training source).

    `classes`: the dataset's classes (wnids) in label order; `read(i)`: image `i` as
    `(H, W, 3)` uint8 RGB and its target `(H, W)` int64 class indices (`IGNORE_INDEX`
    (-1) = ignore), or `Skipped` (the file and why), or None (a bad sample the source
    has logged) for one that cannot be scored.
    """

    classes: list[str]

    def __len__(self) -> int: ...

    def read(self, index: int) -> Item: ...


@dataclass(frozen=True)
class BaseClasses:
    """The base classes (masks in training) and how they were decided, for the output.

    Attributes:
        wnids: the base classes; every other evaluated class is novel.
        rule: one sentence saying where they come from.
    """

    wnids: frozenset[str]
    rule: str

    @classmethod
    def read(
        cls, spec: list[str | None] | str, where: str, benchmark: str | None = None
    ) -> BaseClasses:
        """Base classes named by a list, a wnid file, `benchmark:NAME` (all its classes),
        `paper:NAME` (the paper's split of benchmark NAME) or `paper` (that of `benchmark`,
        the benchmark evaluated)."""
        if spec == "paper" or (isinstance(spec, str) and spec.startswith(PAPER_PREFIX)):
            return cls.paper(spec[len(PAPER_PREFIX) :] if spec != "paper" else benchmark, where)
        try:
            wnids = class_wnids(spec, where)
        except DataError as err:
            raise EvaluationError(str(err)) from err
        if not wnids:
            raise EvaluationError(f"{where}: names no class; give at least one wnid")
        named = f"{len(wnids)} wnids" if isinstance(spec, list) else spec
        return cls(frozenset(wnids), f"base classes named by {where} ({named})")

    @classmethod
    def paper(cls, benchmark: str | None, where: str) -> BaseClasses:
        """The paper's split of `benchmark` ("ade-150", "ade-847"): base = the classes
        whose names the authors found among COCO-Stuff's (`paper_base_wnids`)."""
        if benchmark is None:
            raise EvaluationError(
                f"{where}: 'paper' needs the benchmark evaluated; write paper:ade-150 or "
                "paper:ade-847"
            )
        try:
            wnids = paper_base_wnids(benchmark)
        except VocabularyError as err:
            raise EvaluationError(f"{where}: {err}") from err
        return cls(
            wnids,
            f"base = the {benchmark} classes the paper counts base (its name comparison "
            f"with COCO-Stuff; {where} {PAPER_PREFIX}{benchmark})",
        )


def base_flags(wnids: Sequence[str], base: AbstractSet[str] | Sequence[bool]) -> list[bool]:
    """Base flag of each evaluated class, from a set of base wnids or one flag per class."""
    if isinstance(base, AbstractSet):
        return [wnid in base for wnid in wnids]
    flags = [bool(b) for b in base]
    if len(flags) != len(wnids):
        raise EvaluationError(f"base has {len(flags)} flags for {len(wnids)} evaluated classes")
    return flags


def evaluate(
    model: LarvSegModel,
    dataset: EvalDataset,
    base: AbstractSet[str] | Sequence[bool],
    options: PredictOptions = DEFAULT_OPTIONS,
    *,
    split: str = "",
    device: str | torch.device = "cpu",
    allow_uncovered: bool = False,
    progress: bool = True,
    readers: int = 2,
    name: str = "",
) -> EvalResult:
    """mIoU (all / base / novel), accuracies and the confusion matrix of `model` on `dataset`.

    Args:
        model: the model; put in eval mode on `device`.
        dataset: the images and targets; target value `k` is `dataset.classes[k]`.
        base: the base wnids, or one flag per class of the dataset.
        options: how images are scored (size, windows, decoding, autocast).
        split: how the base classes were decided (shown with the result).
        device: where the model runs.
        allow_uncovered: score classes that cover no model category (never predicted,
            listed in the result's `uncovered`) instead of raising `EvaluationError`.
        progress: show a tqdm bar (images/s) when stderr is a terminal.
        readers: threads reading images ahead of the model.
        name: dataset name shown in the result.
    """
    classes = list(dataset.classes)
    flags = base_flags(classes, base)
    model.eval().to(device)
    predictor = ClassPredictor(
        model, classes, options, source=name, allow_uncovered=allow_uncovered
    )
    confusion = ConfusionMatrix(len(classes), IGNORE_INDEX)
    images, skipped = 0, []
    start = time.perf_counter()
    bar = tqdm(
        _read_ahead(dataset, readers),
        total=len(dataset),
        desc=f"eval {name}".strip(),
        unit="image",
        disable=None if progress else True,  # None: on a terminal only
    )
    for number, item in enumerate(bar):
        if isinstance(item, Skipped):
            skipped.append(item)
        elif item is None:
            skipped.append(Skipped(f"item {number}", "a bad sample (see the warning above)"))
        elif item[1] is None:
            skipped.append(Skipped(f"item {number}", "no label map"))
        else:
            confusion.update(predictor(item[0]), item[1])
            images += 1
    return EvalResult.from_confusion(
        confusion,
        classes,
        flags,
        predictor.names,
        dataset=name,
        split=split,
        uncovered=predictor.uncovered,
        images=images,
        skipped=len(skipped),
        skipped_files=[{"path": s.path, "reason": s.reason} for s in skipped],
        seconds=time.perf_counter() - start,
    )


def _read_ahead(dataset: EvalDataset, readers: int) -> Iterator[Item]:
    """`dataset.read(i)` for every i in order, read by `readers` threads at most
    `2 * readers` images ahead (decoding overlaps the model; memory stays bounded)."""
    if readers < 1:
        yield from (dataset.read(i) for i in range(len(dataset)))
        return
    indices = iter(range(len(dataset)))
    with ThreadPoolExecutor(readers) as pool:
        pending = deque(
            pool.submit(dataset.read, i) for i in itertools.islice(indices, 2 * readers)
        )
        while pending:
            item = pending.popleft().result()
            for i in itertools.islice(indices, 1):
                pending.append(pool.submit(dataset.read, i))
            yield item


@dataclass(frozen=True)
class EvalReport:
    """The results of every evaluated dataset, in order."""

    results: list[EvalResult]

    def __str__(self) -> str:
        return "\n\n".join(result.format_table() for result in self.results)

    def check_scored(self) -> None:
        """`EvaluationError` when a dataset had no image that could be scored (its mIoU
        would be undefined), naming the first files skipped and why."""
        for result in self.results:
            if result.images == 0:
                shown = "; ".join(f"{s['path']}: {s['reason']}" for s in result.skipped_files[:3])
                more = len(result.skipped_files) - 3
                raise EvaluationError(
                    f"{result.dataset or 'evaluation'}: nothing could be scored: all "
                    f"{result.skipped} images were skipped ({shown}"
                    + (f"; and {more} more" if more > 0 else "")
                    + ")"
                )

    def to_dict(self) -> dict[str, Any]:
        """`{dataset name: EvalResult.to_dict()}`."""
        return {r.dataset: r.to_dict() for r in self.results}

    def to_json(self, indent: int | None = 2) -> str:
        """`to_dict()` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def write_json(self, path: str | Path) -> Path:
        """Write `to_json(indent=None)` (compact: ADE-847's confusion matrix alone has
        559,504 entries) to `path`, folders created, atomically (`larvseg.atomic`);
        returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_text(path, self.to_json(indent=None) + "\n")
