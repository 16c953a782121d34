"""Evaluation never quietly scores the wrong thing: every label map it cannot use is named
with why, and a run in which nothing could be scored exits with an error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from larvseg.cli.main import main


@pytest.mark.slow
def test_nothing_scored_is_a_one_line_error(
    benchmark_tree: Callable[..., Path],
    timm_checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    maps = [np.full((16, 16), 200), np.full((16, 16), 151)]  # no ADE-150 value
    root = benchmark_tree(tmp_path, "ade-150", maps)
    args = ["eval", "--dataset", "ade-150", "--root", str(root), "--model", str(timm_checkpoint)]
    assert main([*args, "--device", "cpu", "--allow-uncovered"]) == 2
    labels = root / "ADEChallengeData2016/annotations/validation"
    assert capsys.readouterr().err == (
        f"larvseg: ade-150: nothing could be scored: all 2 images were skipped "
        f"({labels / '000000000000.png'}: 256 pixels hold values outside the class list "
        "(0..150): 200; is it a label map of ade-150?; "
        f"{labels / '000000000001.png'}: 256 pixels hold values outside the class list "
        "(0..150): 151; is it a label map of ade-150?)\n"
    )
