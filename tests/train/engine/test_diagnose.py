"""The attention diagnostic of a training checkpoint, on a source with odd image sizes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from larvseg.train.ca.diagnostics import attention_items, attention_share
from larvseg.train.cli import main
from larvseg.train.config import TrainConfig
from larvseg.train.data.dataset import build_dataset
from larvseg.train.engine.diagnose import diagnose_attention
from larvseg.train.engine.trainer import Trainer

ODD_CLASSES = ["n02123045", "n00007846", "n02084071"]  # tabby, person (base), dog (novel)


def _odd_source(root: Path) -> dict[str, Any]:
    """Three 37x53 images (no side a multiple of the patch) with random label maps."""
    rng = np.random.default_rng(1)
    for folder in ("images", "labels"):
        (root / folder).mkdir(parents=True)
    for i in range(3):
        pixels = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"{i}.png")
        label = rng.choice(np.array([0, 1, 2, 255], dtype=np.uint8), size=(37, 53))
        Image.fromarray(label, mode="L").save(root / "labels" / f"{i}.png")
    return {
        "name": "odd",
        "kind": "segmentation",
        "images": str(root / "images"),
        "annotations": str(root / "labels"),
        "classes": ODD_CLASSES,
        "image_suffix": ".png",
    }


def test_diagnostic_of_a_checkpoint_equals_the_live_measurement(
    run_dict: Any, tmp_path: Path
) -> None:
    data = run_dict(tmp_path, 2, 2)
    data["data"]["eval_sources"] = [_odd_source(tmp_path / "odd")]
    config = TrainConfig.from_dict(data)
    trainer = Trainer(config)
    trainer.train()
    model, bank, ca_loss = trainer.model, trainer.bank, trainer.forward.ca_loss
    assert bank is not None and ca_loss is not None
    dataset = build_dataset(
        config.data.eval_sources[0], model.config.mean, model.config.std, train=False
    )
    live = attention_share(
        model,
        bank,
        ca_loss,
        attention_items(dataset, model),
        torch.tensor([model.config.categories.index(w) for w in ODD_CLASSES]),
        torch.tensor([False, False, True]),
    )
    report = diagnose_attention(config, "odd")  # the latest checkpoint of the run
    assert report.iteration == 2 and report.checkpoint.endswith("iter_00000002.pt")
    assert live.pairs > 0 and 0 < report.share.attention < 1
    np.testing.assert_equal(dataclasses.astuple(report.share), dataclasses.astuple(live))
    first = diagnose_attention(config, "odd", tmp_path / "out", max_images=1).share
    assert 0 < first.pairs < live.pairs


def test_diagnose_attention_command(
    run_dict: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = run_dict(tmp_path, 1, 1)
    data["data"]["eval_sources"] = [_odd_source(tmp_path / "odd")]
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["fit", "--config", str(path)]) == 0
    capsys.readouterr()
    run = ["diagnose", "--config", str(path)]
    assert main([*run, "odd", "--checkpoint", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("CA attention share on 'odd', ") and "(iteration 1)" in out[0]
    assert out[1].split() == ["labels", "pairs", "attention", "area", "(chance)"]
    assert [line.split()[0] for line in out[2:]] == ["all", "novel"]
    for argv, message in [
        ([*run, "nope"], "no source of that name in data.sources or data.eval_sources"),
        ([*run, "wa"], "has no label maps"),
        ([*run, "odd", "--max-images", "0"], "--max-images takes a positive count"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


def test_diagnostic_on_real_street_scenes(
    run_dict: Any, tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Full-ADE20K photos of 2048x1536, 2200x1650 and 2200x1467 pixels (no side a multiple
    of 16), three of their classes read as the model's tabby, person and dog."""
    folder = shared_data / "ade20k-full"
    values = dict(zip((312, 401, 2420), ODD_CLASSES, strict=True))
    data = run_dict(tmp_path, 2, 2)
    data["data"]["eval_sources"] = [
        {
            "name": "streets",
            "kind": "segmentation",
            "images": str(folder),
            "annotations": str(folder),
            "label_suffix": "_seg.png",
            "label_decoder": "ade20k_full",
            "classes": [values.get(v) for v in range(4096)],  # all others unused
        }
    ]
    config = TrainConfig.from_dict(data)
    Trainer(config).train()
    report = diagnose_attention(config, "streets")
    assert report.share.pairs > 0 and 0 < report.share.attention < 1
    assert 0 < report.share.area < 1 and report.share.novel_pairs > 0  # dog: novel
