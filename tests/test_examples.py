"""Every script in examples/ runs, against a tiny random-weight checkpoint (no network)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    assert {p.name for p in EXAMPLES.glob("*.py")} == {"choose_vocabulary.py", "segment_photo.py"}


def test_choose_vocabulary(tmp_path: Path) -> None:
    out = run("choose_vocabulary.py", "moth", cwd=tmp_path)
    assert "moth.n.01" in out and "animal.n.01 covers" in out


def test_segment_photo(timm_checkpoint: Path, real_images: list[Path], tmp_path: Path) -> None:
    args = [str(real_images[0]), "--model", str(timm_checkpoint), "--out", str(tmp_path / "p")]
    out = run("segment_photo.py", *args, "--vocab", "animal.n.01", cwd=tmp_path)
    assert "wrote labels" in out
    assert {p.name for p in tmp_path.iterdir()} >= {"p_labels.png", "p_overlay.png", "p.json"}
