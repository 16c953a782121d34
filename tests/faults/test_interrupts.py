"""A run killed (SIGKILL) or interrupted (SIGINT) in the middle of writing a file: no file
under an output's name is ever half-written, Ctrl-C ends with one line and exit code 130,
and running the command again finishes the folder (it rewrites every output)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from PIL import Image

from larvseg.cli.exit import run_command

from .conftest import Paused, error_lines, larvseg, make_images

pytestmark = pytest.mark.slow
NAMES = ["a.png", "b.png", "c.png"]


def segment_args(folder: Path, out: Path, checkpoint: Path) -> list[str]:
    return [
        "segment", str(folder), "-o", str(out), "--model", str(checkpoint),
        "--device", "cpu", "--workers", "0", "--batch-size", "1",
    ]  # fmt: skip


def complete_outputs(out: Path) -> list[str]:
    """Every visible file of `out`, each checked to be whole (PNG decoded, JSON parsed)."""
    names = []
    for path in sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")):
        if path.suffix == ".png":
            with Image.open(path) as image:
                image.load()  # a truncated PNG raises here
        else:
            json.loads(path.read_text())
        names.append(path.name)
    return names


def test_sigkill_mid_write_leaves_no_half_written_file_and_a_rerun_finishes(
    tmp_path: Path, timm_checkpoint: Path
) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    make_images(folder, NAMES)
    args = segment_args(folder, out, timm_checkpoint)
    run = Paused(tmp_path, 3, *args)  # the 3rd PNG: b_labels.png, half on disk
    run.wait_until_paused()
    code, _ = run.signal(signal.SIGKILL)
    assert code == -signal.SIGKILL
    # a's three files are complete; b's labels exist only as a hidden temporary file
    assert complete_outputs(out) == ["a.json", "a_labels.png", "a_overlay.png"]
    assert [p.name.split(".")[1] for p in out.glob(".*.partial")] == ["b_labels"]
    again = larvseg(*args)
    assert again.returncode == 0, again.stderr
    assert complete_outputs(out) == [
        "a.json", "a_labels.png", "a_overlay.png", "b.json", "b_labels.png", "b_overlay.png",
        "c.json", "c_labels.png", "c_overlay.png", "larvseg-summary.json",
    ]  # fmt: skip
    summary = json.loads((out / "larvseg-summary.json").read_text())
    assert (summary["files"], summary["segmented"], summary["failed"]) == (3, 3, [])


def test_ctrl_c_mid_write_is_one_line_exit_130_and_leaves_nothing_half_written(
    tmp_path: Path, timm_checkpoint: Path
) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    make_images(folder, NAMES)
    run = Paused(tmp_path, 5, *segment_args(folder, out, timm_checkpoint))  # c_labels.png
    run.wait_until_paused()
    code, err = run.signal(signal.SIGINT)
    assert code == 130
    assert error_lines(err) == ["larvseg: interrupted"]
    assert complete_outputs(out) == [
        "a.json", "a_labels.png", "a_overlay.png", "b.json", "b_labels.png", "b_overlay.png",
    ]  # fmt: skip
    assert not list(out.glob(".*"))  # the temporary file was removed


def test_run_command_turns_ctrl_c_into_one_line_and_130(capsys: pytest.CaptureFixture) -> None:
    def interrupted() -> int:
        raise KeyboardInterrupt

    assert run_command("larvseg-train", interrupted) == 130
    assert capsys.readouterr().err == "larvseg-train: interrupted\n"
