"""Tiny on-disk training runs for the training tests: three sources and a tiny model.

`run_config(tmp_path, iterations=2, checkpoint_every=2)` and `write_config(tmp_path,
iterations=1)` are factory fixtures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from larvseg.modeling.model import LarvSegModel
from larvseg.train.config import TrainConfig

# real ImageNet-21K wnids: tench, tabby, person, dog
WNIDS = ["n01440764", "n02123045", "n00007846", "n02084071"]


def _image(path: Path, rng: np.random.Generator, size: tuple[int, int] = (40, 48)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)


def _write_data(root: Path) -> list[dict[str, Any]]:
    """Write a segmentation, a multi-label and a single-label source; their config dicts."""
    rng = np.random.default_rng(0)
    for i in range(4):
        _image(root / "seg/images" / f"{i}.jpg", rng)
        label = rng.choice(np.array([0, 1, 2, 255], dtype=np.uint8), size=(40, 48))
        (root / "seg/annotations").mkdir(parents=True, exist_ok=True)
        Image.fromarray(label, mode="L").save(root / "seg/annotations" / f"{i}.png")
    lines = []
    for i in range(4):
        _image(root / "wa/images" / f"{i}.jpg", rng)
        lines.append(json.dumps({"image": f"{i}.jpg", "labels": [WNIDS[1 + i % 3], WNIDS[1]]}))
    (root / "wa/labels.jsonl").write_text("\n".join(lines), encoding="utf-8")
    for wnid in WNIDS:
        for i in range(2):
            _image(root / "in" / wnid / f"{i}.JPEG", rng)
    common = {"crop_size": 32, "batch_size": 2}
    return [
        {
            "name": "seg",
            "kind": "segmentation",
            "images": str(root / "seg/images"),
            "annotations": str(root / "seg/annotations"),
            "classes": WNIDS[:3],
            **common,
        },
        {
            "name": "wa",
            "kind": "multilabel",
            "images": str(root / "wa/images"),
            "labels_file": str(root / "wa/labels.jsonl"),
            "classes": WNIDS[1:],
            "loss_weight": 0.2,
            "aux_weight": 0.1,
            **common,
        },
        {
            "name": "in",
            "kind": "singlelabel",
            "images": str(root / "in"),
            "loss_weight": 0.2,
            "aux_weight": 0.1,
            **common,
        },
    ]


def _run_dict(
    tiny_cosine_config: Callable[..., Any], tmp_path: Path, iterations: int, checkpoint_every: int
) -> dict[str, Any]:
    """Config mapping of a tiny run on data and an initial model under `tmp_path`."""
    init = tmp_path / "init"
    if not (init / "config.json").is_file():
        torch.manual_seed(0)
        LarvSegModel(tiny_cosine_config(WNIDS)).save_pretrained(init)
    return {
        "model": {"init": str(init), "image_size": 32},
        "data": {"sources": _write_data(tmp_path / "data"), "index_dir": str(tmp_path / "index")},
        "optim": {"iterations": iterations, "lr": 0.01},
        "ca": {"bank_size": 2, "topk": 4},
        "class_sampling": {"enabled": True, "num_sample_class": 1},
        "output_dir": str(tmp_path / "out"),
        "checkpoint_every": checkpoint_every,
        "log_every": 1,
    }


@pytest.fixture()
def run_dict(tiny_cosine_config: Callable[..., Any]) -> Callable[..., dict[str, Any]]:
    """Factory: `run_dict(tmp_path, iterations, checkpoint_every)`, the config mapping of a
    tiny run (CA with 2-entry banks, class sampling on) on data written under `tmp_path`."""

    def make(tmp_path: Path, iterations: int = 2, checkpoint_every: int = 2) -> dict[str, Any]:
        return _run_dict(tiny_cosine_config, tmp_path, iterations, checkpoint_every)

    return make


@pytest.fixture()
def run_config(run_dict: Callable[..., dict[str, Any]]) -> Callable[..., TrainConfig]:
    """Factory: `run_config(tmp_path, iterations=2, checkpoint_every=2)`, the tiny run."""

    def make(tmp_path: Path, iterations: int = 2, checkpoint_every: int = 2) -> TrainConfig:
        return TrainConfig.from_dict(run_dict(tmp_path, iterations, checkpoint_every))

    return make


@pytest.fixture()
def write_config(run_dict: Callable[..., dict[str, Any]]) -> Callable[..., Path]:
    """Factory: `write_config(tmp_path, iterations=1)`, the tiny run as a YAML file."""

    def make(tmp_path: Path, iterations: int = 1) -> Path:
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(run_dict(tmp_path, iterations, 1)), encoding="utf-8")
        return path

    return make
