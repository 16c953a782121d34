"""Trainer: mixed-batch loss terms, logs, NaN stop, a CLI run."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from larvseg.errors import DataError
from larvseg.train.cli import main
from larvseg.train.config import TrainConfig
from larvseg.train.data.sampler import MixedBatchLoader
from larvseg.train.engine.checkpoint import find_checkpoint
from larvseg.train.engine.trainer import Trainer
from larvseg.train.errors import TrainConfigError, TrainingError


def test_mixed_batch_step_logs_every_source(run_config: Any, tmp_path: Path) -> None:
    config = dataclasses.replace(run_config(tmp_path, 2, 2), tensorboard=True)
    Trainer(config).train()
    assert list((tmp_path / "out" / "tensorboard").glob("events.out.tfevents.*"))
    records = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").open()]
    assert [r["iteration"] for r in records] == [1, 2]
    for key in ("loss", "seg/seg", "wa/cls", "wa/aux", "in/cls", "in/aux", "lr", "it_per_s"):
        assert key in records[0], key
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in records)


def test_non_finite_loss_stops_and_keeps_last_checkpoint(run_config: Any, tmp_path: Path) -> None:
    trainer = Trainer(run_config(tmp_path, iterations=4, checkpoint_every=1))
    trainer.train(stop_at=1)
    with torch.no_grad():
        trainer.model.classifier.gamma.fill_(float("nan"))
    with pytest.raises(TrainingError, match=r"iteration 2: loss term 'seg/seg' is nan"):
        trainer.train()
    assert find_checkpoint(tmp_path / "out").name == "iter_00000001.pt"


def test_cli_trains_and_reports_bad_data_in_one_line(
    write_config: Any, tmp_path: Path, capsys
) -> None:
    path = write_config(tmp_path, iterations=1)
    assert main(["fit", "--config", str(path)]) == 0
    assert (tmp_path / "out" / "model" / "model.safetensors").is_file()
    err = capsys.readouterr().err.splitlines()  # the index and warm start reach the user
    assert err[0].startswith("larvseg-train: data source 'seg': 4 samples listed, index written")
    assert err[3].startswith("larvseg-train: initialised from ")
    assert err[4].startswith("larvseg-train: train 1/1 | loss ")
    assert main(["eval", "--config", str(path)]) == 0
    assert "mIoU" in capsys.readouterr().out
    code = main(
        ["fit", "--config", str(path), "--set", "data.sources.0.images=/nonexistent/images"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "/nonexistent/images" in err[0]


def test_source_classes_outside_model_classes_are_a_config_error(
    run_config: Any, tmp_path: Path
) -> None:
    config = run_config(tmp_path)
    config.model.classes = config.data.sources[0].classes[:2]  # type: ignore[index]
    with pytest.raises(TrainConfigError, match=r"data source 'seg'.*model\.classes"):
        Trainer(config)


def test_model_classes_from_a_class_list_file(run_dict: Any, tmp_path: Path) -> None:
    data = run_dict(tmp_path)
    listing = tmp_path / "vocabulary.txt"  # dog, (unused), tench, tabby, person
    listing.write_text("n02084071\n-\nn01440764\nn02123045\nn00007846\n", encoding="utf-8")
    data["model"]["classes"] = str(listing)
    trainer = Trainer(TrainConfig.from_dict(data))
    expected = ["n02084071", "n01440764", "n02123045", "n00007846"]
    assert trainer.model.config.categories == expected
    data["model"]["classes"] = str(tmp_path / "missing.txt")
    with pytest.raises(DataError, match=r"^model\.classes: classes file .*missing\.txt not found"):
        Trainer(TrainConfig.from_dict(data))


def test_validate_modes_and_bad_samples(run_config: Any, tmp_path: Path) -> None:
    """A label map with a value outside the class list: eager stops before training;
    lazy reads it during training and skips it (logged) or stops with bad_samples: fail."""
    config = run_config(tmp_path, iterations=2)
    bad = Path(config.data.sources[0].annotations) / "2.png"  # type: ignore[arg-type]
    Image.fromarray(np.full((40, 48), 9, np.uint8), mode="L").save(bad)
    config.data.validate = "eager"
    with pytest.raises(DataError, match=r"'seg': label map .*2\.png has values \[9\]"):
        Trainer(config)
    config.data.validate = "lazy"
    trainer = Trainer(config)  # not read yet
    loader = MixedBatchLoader(trainer.datasets, config.seed, 0, 1)
    skipped = sum(batches["seg"]["skipped"] for batches in itertools.islice(loader, 2))
    assert skipped == 1  # two steps of 2 = the 4 samples, one of them bad
    trainer.train()
    config.data.bad_samples = "fail"
    with pytest.raises(DataError, match=r"2\.png has values \[9\].*bad_samples: fail"):
        Trainer(config).train()
