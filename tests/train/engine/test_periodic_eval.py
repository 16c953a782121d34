"""Evaluation during training: logged results, the best model, resume keeps the best."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from larvseg.errors import EvaluationError
from larvseg.modeling.model import LarvSegModel
from larvseg.train.config import TrainConfig
from larvseg.train.engine import periodic_eval
from larvseg.train.engine.checkpoint import load_checkpoint
from larvseg.train.engine.trainer import Trainer
from larvseg.train.errors import TrainConfigError
from larvseg.train.evaluation.runner import run_evaluation

DOG = "n02084071"  # a class of the model without masks in training: novel
SKY = "n09436708"  # a class of no training source


def _with_eval(data: dict[str, Any], **keys: Any) -> dict[str, Any]:
    """`data` evaluating on the seg images read as tench, dog, tabby (dog is novel)."""
    seg = data["data"]["sources"][0]
    val = {**seg, "name": "val", "classes": [seg["classes"][0], DOG, seg["classes"][1]]}
    data["data"]["eval_sources"] = [val]
    return {**data, **keys}


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "train_log.jsonl").open()]


def _scripted(scores: Iterator[float]) -> Any:
    def source_metrics(*args: Any) -> dict[str, float | None]:
        return {"miou": 0.9, "miou_base": 0.9, "miou_novel": next(scores), "pixel_accuracy": 0.9}

    return source_metrics


def test_best_model_is_the_best_evaluation_and_resume_keeps_it(
    run_dict: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(periodic_eval, "source_metrics", _scripted(iter([0.2, 0.5, 0.3, 0.4])))
    data = _with_eval(run_dict(tmp_path, 4, 1), eval_every=1, keep_checkpoints=10)
    trainer = Trainer(TrainConfig.from_dict(data))
    assert trainer.evaluator is not None and trainer.evaluator.metric == "miou_novel"  # auto
    trainer.train(stop_at=3)
    out = tmp_path / "out"
    best = {"metric": "miou_novel", "value": 0.5, "iteration": 2}
    assert json.loads((out / "best" / "best.json").read_text()) == best
    exported = LarvSegModel.from_pretrained(out / "best").state_dict()
    at_2 = load_checkpoint(out / "checkpoints" / "iter_00000002.pt")
    assert at_2["best"] == best
    for name, value in at_2["model"].items():
        assert torch.equal(exported[name], value), name
    evals = [r for r in _records(out) if "eval/miou_novel" in r]
    assert [(r["iteration"], r["eval/val/miou_novel"], r["eval/miou_novel"]) for r in evals] == [
        (1, 0.2, 0.2),
        (2, 0.5, 0.5),
        (3, 0.3, 0.3),
    ]
    resumed = Trainer(TrainConfig.from_dict(data), resume=out)
    assert resumed.evaluator is not None and resumed.evaluator.best == best
    resumed.train()  # iteration 4 scores 0.4 < 0.5: the best stays
    assert json.loads((out / "best" / "best.json").read_text()) == best
    assert load_checkpoint(out)["iteration"] == 4 and load_checkpoint(out)["best"] == best


def test_eval_during_training_scores_as_eval_only(run_dict: Any, tmp_path: Path) -> None:
    data = _with_eval(run_dict(tmp_path, 3, 3), eval_every=2, tensorboard=True)
    config = TrainConfig.from_dict(data)
    Trainer(config).train()
    out = tmp_path / "out"
    evals = {r["iteration"]: r for r in _records(out) if "eval/miou_novel" in r}
    assert list(evals) == [2, 3]  # every 2 iterations, and at the end
    best = json.loads((out / "best" / "best.json").read_text())
    [result] = run_evaluation(config, str(out / "best"), sources=config.data.eval_sources).results
    logged = evals[best["iteration"]]
    for key in ("miou", "miou_base", "miou_novel", "pixel_accuracy"):
        assert logged[f"eval/val/{key}"] == pytest.approx(getattr(result, key), abs=1e-12), key
    assert best["value"] == max(r["eval/miou_novel"] for r in evals.values())
    [events] = (out / "tensorboard").glob("events.out.tfevents.*")
    scalars = EventAccumulator(str(events)).Reload()
    assert [e.step for e in scalars.Scalars("eval/val/miou")] == [2, 3]
    assert scalars.Scalars("eval/miou_novel")[0].value == pytest.approx(evals[2]["eval/miou_novel"])


def test_best_metric_needs_classes_of_its_split(run_dict: Any, tmp_path: Path) -> None:
    data = run_dict(tmp_path)
    data["data"]["eval_sources"] = [{**data["data"]["sources"][0], "name": "val"}]  # all base
    data["eval_every"] = 1
    assert Trainer(TrainConfig.from_dict(data)).evaluator.metric == "miou"  # type: ignore[union-attr]
    with pytest.raises(TrainConfigError, match=r"best_metric miou_novel: .* no novel class"):
        Trainer(TrainConfig.from_dict({**data, "best_metric": "miou_novel"}))


def test_eval_every_without_eval_sources_says_so(
    run_dict: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trainer = Trainer(TrainConfig.from_dict({**run_dict(tmp_path), "eval_every": 1}))
    assert trainer.evaluator is None
    assert "eval_every is set but data.eval_sources is empty" in caplog.text


def test_allow_uncovered_lets_training_evaluate_classes_no_source_has(
    run_dict: Any, tmp_path: Path
) -> None:
    """The evaluation source lists sky, which no training source has: evaluation during
    training stops unless data.allow_uncovered, which scores sky as never predicted."""
    data = _with_eval(run_dict(tmp_path, 1, 1), eval_every=1)
    val = data["data"]["eval_sources"][0]
    val["classes"] = [*val["classes"][:2], SKY]
    with pytest.raises(EvaluationError, match=SKY):
        Trainer(TrainConfig.from_dict(data)).train()
    data["data"]["allow_uncovered"] = True
    Trainer(TrainConfig.from_dict(data)).train()
    (logged,) = [r for r in _records(tmp_path / "out") if "eval/val/miou" in r]
    assert logged["eval/val/miou"] is not None
