"""Engine: poly schedule, class sampling, mixed-batch loss terms, logs, NaN stop, CLI run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from train_helpers import run_config, write_config

from larvseg.train.checkpoint import find_checkpoint
from larvseg.train.cli import main
from larvseg.train.config import TrainConfig, TrainConfigError
from larvseg.train.engine import Trainer, TrainingError, poly_lr
from larvseg.train.step import SourcePlan, sample_classes
from larvseg.train.transforms import IGNORE_INDEX


def test_poly_schedule_runs_from_lr_to_min_lr() -> None:
    config = TrainConfig.from_dict({"optim": {"iterations": 100}})
    assert poly_lr(0, config) == pytest.approx(1e-3)
    assert poly_lr(100, config) == pytest.approx(1e-5)
    assert poly_lr(50, config) == pytest.approx((1e-3 - 1e-5) * 0.5**0.9 + 1e-5)


@pytest.mark.parametrize("kind", ["segmentation", "multilabel"])
def test_class_sampling_keeps_present_classes_and_remaps_targets(kind: str) -> None:
    plan = SourcePlan("s", kind, torch.arange(50) + 7, 1.0, 0.1, sample=True)
    if kind == "segmentation":
        batch = {"target": torch.tensor([[[3, 40], [IGNORE_INDEX, 3]]])}
        key, present = "target", [3, 40]
    else:
        batch = {"labels": torch.tensor([[12, 30, -1], [30, -1, -1]])}
        key, present = "labels", [12, 30]
    local, out = sample_classes(batch, plan, 5, torch.Generator().manual_seed(0))
    assert local.numel() == len(present) + 5 and local.unique().numel() == local.numel()
    assert local[: len(present)].tolist() == present
    original, remapped = batch[key], out[key]
    valid = original >= 0
    assert torch.equal(local[remapped[valid]], original[valid])
    assert torch.equal(remapped[~valid], original[~valid])
    assert (remapped[~valid] == -1).all() and valid.sum() < original.numel()


def test_mixed_batch_step_logs_every_source(tmp_path: Path) -> None:
    config = dataclasses.replace(run_config(tmp_path, 2, 2), tensorboard=True)
    Trainer(config).train()
    assert list((tmp_path / "out" / "tensorboard").glob("events.out.tfevents.*"))
    records = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").open()]
    assert [r["iteration"] for r in records] == [1, 2]
    for key in ("loss", "seg/seg", "wa/cls", "wa/aux", "in/cls", "in/aux", "lr", "it_per_s"):
        assert key in records[0], key
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in records)


def test_non_finite_loss_stops_and_keeps_last_checkpoint(tmp_path: Path) -> None:
    trainer = Trainer(run_config(tmp_path, iterations=4, checkpoint_every=1))
    trainer.train(stop_at=1)
    with torch.no_grad():
        trainer.model.classifier.gamma.fill_(float("nan"))
    with pytest.raises(TrainingError, match=r"iteration 2: loss term 'seg/seg' is nan"):
        trainer.train()
    assert find_checkpoint(tmp_path / "out").name == "iter_00000001.pt"


def test_cli_trains_and_reports_bad_data_in_one_line(tmp_path: Path, capsys) -> None:
    path = write_config(tmp_path, iterations=1)
    assert main(["--config", str(path)]) == 0
    assert (tmp_path / "out" / "model" / "model.safetensors").is_file()
    assert main(["--config", str(path), "--eval-only"]) == 0
    assert "mIoU" in capsys.readouterr().out
    code = main(["--config", str(path), "--set", "data.sources.0.images=/nonexistent/images"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "/nonexistent/images" in err[0]


def test_source_classes_outside_model_classes_are_a_config_error(tmp_path: Path) -> None:
    config = run_config(tmp_path)
    config.model.classes = config.data.sources[0].classes[:2]  # type: ignore[index]
    with pytest.raises(TrainConfigError, match=r"data source 'seg'.*model\.classes"):
        Trainer(config)
