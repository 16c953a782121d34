"""Impossible checkpoint configs are a one-line CheckpointError naming the key, never a
timm/torch traceback; every checkpoint error prints on one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from larvseg.cli.main import main
from larvseg.config import ModelConfig
from larvseg.modeling.model import LarvSegModel

WNIDS = ["n02084071", "n02121808"]
BAD = {
    "backbone_kwargs.embed_dim must be a positive number, got -32": {"embed_dim": -32},
    "backbone_kwargs.num_heads=3 does not divide backbone_kwargs.embed_dim=32": {"num_heads": 3},
    "backbone_kwargs.depth must be integers >= 0, got -1": {"depth": -1},
    "backbone_kwargs.num_heads must be a positive number, got [1, 0]": {"num_heads": [1, 0]},
    "image_size must be positive, got 0": {"image_size": 0},
    "embed_dim must be positive (or 0 or null: the backbone width), got -1": {"embed_dim": -1},
    "mean must have 3 values, got 2": {"mean": [0.5, 0.5]},
    "std must be positive, got (0.5, 0.0, 0.5)": {"std": [0.5, 0.0, 0.5]},
}


def tiny(tiny_cosine_config: Callable[..., ModelConfig], folder: Path) -> Path:
    LarvSegModel(tiny_cosine_config(WNIDS)).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("message", list(BAD))
def test_an_impossible_config_is_one_line_naming_the_key(
    tmp_path: Path,
    tiny_cosine_config: Callable[..., ModelConfig],
    capsys: pytest.CaptureFixture,
    message: str,
) -> None:
    folder = tiny(tiny_cosine_config, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    change = BAD[message]
    if message.startswith("backbone_kwargs"):
        config["backbone_kwargs"].update(change)
    else:
        config.update(change)
    (folder / "config.json").write_text(json.dumps(config))
    args = ["segment", str(tmp_path / "a.jpg"), "--model", str(folder), "-o", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"larvseg: config.json of {str(folder)!r} is invalid: ")
    assert message in err


def test_per_stage_sizes_are_checked_one_by_one() -> None:
    """Swin-like configs give one value per stage: each is checked, none is refused whole."""
    from larvseg.config import check_backbone_kwargs
    from larvseg.errors import ConfigError

    check_backbone_kwargs({"embed_dim": 32, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 1, 1]})
    with pytest.raises(ConfigError, match=r"backbone_kwargs.depths must be integers >= 0"):
        check_backbone_kwargs({"depths": [1, -1]})


def test_weights_that_do_not_match_are_one_line(
    tmp_path: Path, tiny_cosine_config: Callable[..., ModelConfig], capsys: pytest.CaptureFixture
) -> None:
    folder = tiny(tiny_cosine_config, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    config["embed_dim"] = 8  # the saved classifier has 16
    (folder / "config.json").write_text(json.dumps(config))
    assert main(["export", str(folder), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # torch's message spans several lines
    assert err.startswith(f"larvseg: the weights of {str(folder)!r} do not match its config.json:")
    assert "size mismatch for classifier.class_embed" in err
