"""`larvseg segment` under torchrun: two CPU processes (gloo) share a folder of images."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from larvseg.cli.main import main

pytestmark = pytest.mark.slow


def _rank(rank: int, args: list[str]) -> None:
    code = main(args)
    if code != 0:
        raise RuntimeError(f"rank {rank} exited with {code}")


def test_two_ranks_write_each_output_exactly_once(
    timm_checkpoint: Path,
    real_images: list[Path],
    tmp_path: Path,
    spawn_two_ranks: Callable[..., None],
) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    for path in real_images[:5]:
        shutil.copy(path, folder / path.name)
    args = ["segment", str(folder), "--model", str(timm_checkpoint), "--device", "cpu"]
    args += ["--workers", "0", "--vocab", "dog.n.01", "cat.n.01", "-o", str(out)]
    spawn_two_ranks(_rank, args)
    summary = json.loads((out / "larvseg-summary.json").read_text())
    # 5 writes in all, one per rank's file, and all 5 outputs exist: each exactly once
    assert summary["segmented_per_process"] == [3, 2]
    assert summary["files"] == summary["segmented"] == 5 and summary["failed"] == []
    written = sorted(p.name.removesuffix("_labels.png") for p in out.glob("*_labels.png"))
    assert written == sorted(p.stem for p in real_images[:5])


def test_a_mistyped_synset_fails_before_the_model_loads(
    sample_photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The vocabulary is checked first: with a missing model folder, the synset is named."""
    args = ["segment", str(sample_photo), "--model", str(tmp_path / "no-model")]
    assert main([*args, "--vocab", "dog.n.01", "dgo.n.01", "-o", str(tmp_path)]) == 2
    assert "unknown synset dgo.n.01; did you mean dingo.n.01" in capsys.readouterr().err
    assert main([*args, "--vocab", "dog.n.01", "-o", str(tmp_path)]) == 2
    assert "no-model' does not exist" in capsys.readouterr().err
