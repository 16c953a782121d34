"""Resume: N iterations, stop, resume, N more == 2N uninterrupted (weights, momentum, bank)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from larvseg.segmenter import LarvSeg
from larvseg.train.engine.checkpoint import find_checkpoint
from larvseg.train.engine.trainer import Trainer


def test_stop_and_resume_equals_uninterrupted(run_config: Any, tmp_path: Path) -> None:
    config = run_config(tmp_path, iterations=4, checkpoint_every=2)
    full = Trainer(dataclasses.replace(config, output_dir=str(tmp_path / "full")))
    full.train()
    split_config = dataclasses.replace(config, output_dir=str(tmp_path / "split"))
    Trainer(split_config).train(stop_at=2)
    assert find_checkpoint(tmp_path / "split").name == "iter_00000002.pt"
    resumed = Trainer(split_config, resume=tmp_path / "split")
    assert resumed.iteration == 2
    resumed.train()
    resumed_model = resumed.model.state_dict()
    for name, value in full.model.state_dict().items():
        assert torch.equal(value, resumed_model[name]), name
    momentum = [s["momentum_buffer"] for s in resumed.optimizer.state.values()]
    for a, b in zip(full.optimizer.state.values(), momentum, strict=True):
        assert torch.equal(a["momentum_buffer"], b)
    assert full.bank is not None and resumed.bank is not None
    resumed_bank = resumed.bank.state_dict()
    for name, value in full.bank.state_dict().items():
        assert torch.equal(value, resumed_bank[name]), name


def test_exported_model_loads_with_from_pretrained(run_config: Any, tmp_path: Path) -> None:
    trainer = Trainer(run_config(tmp_path, iterations=1, checkpoint_every=1))
    trainer.train()
    loaded = LarvSeg.from_pretrained(str(tmp_path / "out" / "model"))
    assert loaded.config.categories == trainer.model.config.categories


def test_failed_checkpoint_write_leaves_the_previous_one(
    run_config: Any, tmp_path: Path, monkeypatch
) -> None:
    trainer = Trainer(run_config(tmp_path, iterations=2, checkpoint_every=1))
    trainer.train(stop_at=1)

    def broken_save(obj: object, path: Path) -> None:
        Path(path).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.train()
    assert find_checkpoint(tmp_path / "out").name == "iter_00000001.pt"
    files = sorted(p.name for p in (tmp_path / "out" / "checkpoints").iterdir())
    assert files == ["iter_00000001.pt", "latest"]
