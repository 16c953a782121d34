"""Every script in examples/ runs, against a tiny random-weight checkpoint (no network)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def run(script: str, *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_examples_are_all_tested() -> None:
    # onnx_inference.py needs an exported model: tests/export/test_onnx.py runs it
    assert {p.name for p in EXAMPLES.glob("*.py")} == {
        "choose_vocabulary.py",
        "onnx_inference.py",
        "segment_photo.py",
    }


def test_choose_vocabulary(tmp_path: Path) -> None:
    out = run("choose_vocabulary.py", "moth", cwd=tmp_path)
    assert "moth.n.01" in out and "animal.n.01 covers" in out


def test_segment_photo(timm_checkpoint: Path, sample_photo: Path, tmp_path: Path) -> None:
    args = [str(sample_photo), "--model", str(timm_checkpoint), "--out", str(tmp_path / "p")]
    out = run("segment_photo.py", *args, "--vocab", "animal.n.01", cwd=tmp_path)
    assert "wrote labels" in out
    assert {p.name for p in tmp_path.iterdir()} >= {"p_labels.png", "p_overlay.png", "p.json"}


def test_readme_segments_the_photo_shipped_with_its_licence(sample_photo: Path) -> None:
    """README's first command reads a photo of the checkout, small, its licence beside it."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first = re.search(r"larvseg segment (\S+)", readme)
    assert first is not None and (REPO / first.group(1)) == sample_photo
    assert sample_photo.stat().st_size < 200_000
    assert Image.open(sample_photo).size == (451, 300)
    note = (sample_photo.parent / "README.md").read_text(encoding="utf-8")
    assert sample_photo.name in note and "CC0" in note
