"""`larvseg-train eval`: evaluate a trained model on a configuration's data.

The evaluation itself is the core's (`larvseg.evaluation.runner.evaluate`); this module
reads the configuration: which sources to evaluate and which classes are base.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ...distributed import resolve_device
from ...errors import EvaluationError
from ...evaluation.labelmaps import class_wnids, warn_unused_classes
from ...evaluation.predict import DEFAULT_OPTIONS, PredictOptions
from ...evaluation.runner import BaseClasses, EvalReport, evaluate
from ...modeling.model import LarvSegModel
from ...vocab.benchmarks import BENCHMARK_PREFIX
from ..config import DataSourceConfig, TrainConfig
from ..data.dataset import build_dataset


def evaluated_benchmark(config: TrainConfig) -> str | None:
    """The benchmark every evaluation source maps its classes with (`classes:
    benchmark:NAME`), or None: what `base_classes: paper` splits."""
    named = {
        source.classes[len(BENCHMARK_PREFIX) :]
        for source in config.data.eval_sources
        if isinstance(source.classes, str) and source.classes.startswith(BENCHMARK_PREFIX)
    }
    every = len(named) == 1 and all(
        isinstance(s.classes, str) and s.classes.startswith(BENCHMARK_PREFIX)
        for s in config.data.eval_sources
    )
    return named.pop() if every else None


def base_classes(config: TrainConfig, named: list[str | None] | str | None = None) -> BaseClasses:
    """The base classes: `named` (`--base-classes`), else `data.base_classes`, else
    inferred from the class lists of the training segmentation sources (no file scan;
    the rule says so, and that naming them is the way to make it explicit)."""
    benchmark = evaluated_benchmark(config)
    if named is not None:
        return BaseClasses.read(named, "--base-classes", benchmark)
    if config.data.base_classes is not None:
        return BaseClasses.read(config.data.base_classes, "data.base_classes", benchmark)
    training = [s for s in config.data.sources if s.kind == "segmentation"]
    wnids: set[str] = set()
    for source in training:
        if source.classes is None:
            raise EvaluationError(
                f"data source {source.name!r}: segmentation sources need `classes` "
                "(label value -> wnid) to tell base classes from novel ones, or name them "
                "with data.base_classes"
            )
        wnids.update(class_wnids(source.classes, f"data source {source.name!r}"))
    names = ", ".join(s.name for s in training) or "(none)"
    rule = (
        f"inferred: every class listed by the training segmentation sources ({names}) is "
        "base (their label maps were not read); name the base classes with "
        "data.base_classes or --base-classes to make the split explicit"
    )
    return BaseClasses(frozenset(wnids), rule)


def run_evaluation(
    config: TrainConfig,
    checkpoint: str | None = None,
    *,
    sources: Sequence[DataSourceConfig] | None = None,
    base: BaseClasses | None = None,
    options: PredictOptions = DEFAULT_OPTIONS,
    device: str | torch.device | None = None,
    allow_uncovered: bool = False,
    progress: bool = True,
) -> EvalReport:
    """Evaluate a trained model on segmentation data (what `larvseg-train eval` runs).

    Args:
        config: the training configuration.
        checkpoint: model folder or hub id; default `OUTPUT_DIR/model`.
        sources: the data to evaluate on; default the configuration's segmentation
            sources (read without augmentation, at original resolution).
        base: the base classes; default `base_classes(config)`.
        options, allow_uncovered: as in `evaluate`; `config.data.allow_uncovered` also
            allows uncovered classes.
        device: "auto" (default: CUDA when available, else CPU), "cpu", "cuda:N", ...
        progress: show a progress bar per source.

    Warns (`ClassListWarning`) when an evaluated training source lists classes that
    never occur in its label maps: with an inferred split they count as base.
    """
    model = LarvSegModel.from_pretrained(checkpoint or str(Path(config.output_dir) / "model"))
    mean, std = model.config.mean, model.config.std
    training = [s for s in config.data.sources if s.kind == "segmentation"]
    base = base or base_classes(config)
    sources = training if sources is None else list(sources)
    if not sources:
        raise EvaluationError(
            "nothing to evaluate: the configuration has no segmentation source in data.sources"
        )
    device = resolve_device(device)
    results = []
    for source in sources:
        dataset = build_dataset(source, mean, std, train=False)
        result = evaluate(
            model,
            dataset,
            base.wnids,
            options,
            split=base.rule,
            device=device,
            allow_uncovered=allow_uncovered or config.data.allow_uncovered,
            progress=progress,
            name=source.name,
        )
        if source in training:
            pixels = [row.pixels for row in result.per_class]
            warn_unused_classes(f"data source {source.name!r}", dataset.classes, pixels)
        results.append(result)
    return EvalReport(results)
