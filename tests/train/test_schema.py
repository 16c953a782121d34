"""The data root: one rule for every relative path of the `data` section."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from larvseg.modeling.model import LarvSegModel
from larvseg.train.cli import main
from larvseg.train.config import TrainConfig
from larvseg.train.schema import load_config, with_data_root

SOURCE = {
    "name": "ade",
    "kind": "segmentation",
    "images": "ADE/images",
    "annotations": "/abs/annotations",
    "classes": "ade_wnids.txt",
}
EVAL = {**SOURCE, "name": "val", "classes": "benchmark:ade-150", "annotations": "ADE/ann"}


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_relative_paths_are_read_from_the_data_root(tmp_path: Path) -> None:
    data = {"sources": [SOURCE], "eval_sources": [EVAL], "base_classes": "base.txt"}
    config = load_config(write(tmp_path, {"data": data}), data_root="/data", environ={})
    (source,), (val,) = config.data.sources, config.data.eval_sources
    assert (source.images, source.annotations) == ("/data/ADE/images", "/abs/annotations")
    assert source.classes == "/data/ade_wnids.txt" and source.labels_file is None
    assert (val.annotations, val.classes) == ("/data/ADE/ann", "benchmark:ade-150")
    assert config.data.base_classes == "/data/base.txt" and config.data.root == "/data"
    config.dump(tmp_path / "dumped.yaml")  # applying the root again changes nothing
    assert load_config(tmp_path / "dumped.yaml", environ={"LARVSEG_DATA": "/other"}) == config


def test_which_root_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, {"data": {"sources": [SOURCE]}})

    def images(config: TrainConfig) -> str:
        return config.data.sources[0].images

    assert images(load_config(path, environ={})) == "ADE/images"  # the current directory
    assert images(load_config(path, environ={"LARVSEG_DATA": "/env"})) == "/env/ADE/images"
    root = write(tmp_path, {"data": {"sources": [SOURCE], "root": "/file"}})
    assert images(load_config(root, environ={"LARVSEG_DATA": "/env"})) == "/file/ADE/images"
    assert images(load_config(root, data_root="/flag")) == "/flag/ADE/images"
    monkeypatch.chdir(tmp_path)
    relative = load_config(path, data_root="data", environ={})
    assert images(relative) == str(tmp_path / "data/ADE/images")
    unrooted = TrainConfig.from_dict({"data": {"sources": [SOURCE]}})
    assert images(with_data_root(unrooted, {"LARVSEG_DATA": "~/d"})) == str(
        Path.home() / "d/ADE/images"
    )


def test_cli_data_root_reaches_the_sources(
    cosine_model: LarvSegModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cosine_model.save_pretrained(tmp_path / "model")
    path = write(tmp_path, {"data": {"sources": [{**SOURCE, "classes": ["n02084071"]}]}})
    argv = ["eval", "--config", str(path), "--checkpoint", str(tmp_path / "model")]
    assert main([*argv, "--data-root", str(tmp_path / "root")]) == 2
    assert f"{tmp_path / 'root' / 'ADE' / 'images'} does not exist" in capsys.readouterr().err
