"""`larvseg export`: a timm checkpoint (the default model's kind) to ONNX, checked on the way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from larvseg.cli.main import main

pytest.importorskip("onnxruntime")


@pytest.mark.slow
def test_export_writes_the_file_and_reports_parity(
    timm_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "model.onnx"
    assert main(["export", str(timm_checkpoint), "-o", str(output)]) == 0
    out = capsys.readouterr().out
    assert output.is_file()
    assert f"wrote {output} (" in out
    assert "pixel_values (batch, 3, 16*rows, 16*cols) -> logits (batch, 1000, rows, cols)" in out
    difference = re.search(r"on a 1x3x224x224 input: max abs difference (\S+)", out)
    assert difference is not None and float(difference.group(1)) < 1e-4


def test_export_of_a_missing_model_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["export", str(tmp_path / "nowhere"), "-o", str(tmp_path / "m.onnx")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("larvseg: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()
