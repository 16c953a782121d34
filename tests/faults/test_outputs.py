"""Output locations are checked before any work: one line naming the path and exit 2.
Outputs never take the summary's name, and the output folder is never read as input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from larvseg.atomic import check_output_file, check_output_folder
from larvseg.cli.main import main
from larvseg.errors import OutputError

from .conftest import error_lines, larvseg, make_images


def test_bad_output_locations_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    (tmp_path / "folder").mkdir()
    no_model = ["--model", str(tmp_path / "no-model")]  # never reached: the output fails first
    cases = {
        ("segment", "x.jpg", "-o", str(a_file / "out"), *no_model): (
            f"larvseg: cannot write output folder (-o) {a_file / 'out'}: cannot create folder "
            f"{a_file / 'out'} (not a directory)"
        ),
        ("segment", "x.jpg", "-o", str(a_file), *no_model): (
            f"larvseg: output folder (-o) {a_file} is a file; give a folder"
        ),
        ("eval", "--dataset", "ade-150", "--json", str(tmp_path / "folder"), *no_model): (
            f"larvseg: --json {tmp_path / 'folder'} is a folder; give a file name"
        ),
        ("eval", "--dataset", "ade-150", "--json", str(a_file / "e.json"), *no_model): (
            f"larvseg: cannot write --json {a_file / 'e.json'}: cannot create folder {a_file} "
            "(file exists)"
        ),
        ("export", str(tmp_path / "no-model"), "-o", str(a_file / "m.onnx")): (
            f"larvseg: cannot write -o {a_file / 'm.onnx'}: cannot create folder {a_file} "
            "(file exists)"
        ),
    }
    for args, message in cases.items():
        assert main(list(args)) == 2, args
        assert capsys.readouterr().err == message + "\n"


@pytest.mark.slow
def test_an_unwritable_output_folder_is_refused_before_any_work(
    world_tmp: Path, shared_checkpoint: Path
) -> None:
    locked = world_tmp / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    make_images(world_tmp, ["a.png"])
    model = str(shared_checkpoint)
    for args in (
        ["segment", str(world_tmp / "a.png"), "-o", str(locked / "out"), "--model", model],
        ["export", model, "-o", str(locked / "m.onnx")],
    ):
        result = larvseg(*args, user=True)
        assert result.returncode == 2, result.stderr
        (line,) = error_lines(result.stderr)
        assert str(locked) in line and "permission denied" in line
    assert list(locked.iterdir()) == []


def test_checks_create_missing_folders_and_leave_no_probe(tmp_path: Path) -> None:
    assert check_output_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert check_output_file(tmp_path / "c" / "x.json") == tmp_path / "c" / "x.json"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "c"]
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path / "a")


def test_an_image_named_like_the_summary_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    make_images(tmp_path, ["larvseg-summary.png"])
    args = ["segment", str(tmp_path), "-o", str(tmp_path / "out"), "--model", "nowhere/x/y"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "larvseg-summary.png: its outputs would be named" in err


@pytest.mark.slow
def test_outputs_in_the_input_folder_are_never_read_back(
    tmp_path: Path, timm_checkpoint: Path
) -> None:
    nested, folder = tmp_path / "nested", tmp_path / "in"
    make_images(nested, ["a.png", "sub/b.png"])
    make_images(folder, ["a.png", "sub/b.png"])
    run = ["--model", str(timm_checkpoint), "--device", "cpu", "--workers", "0"]
    for _ in range(2):  # the second run meets the first run's outputs
        assert main(["segment", str(nested), "-r", "-o", str(nested / "out"), *run]) == 0
        assert main(["segment", str(folder), "-o", str(folder), *run]) == 0
    inside = json.loads((nested / "out" / "larvseg-summary.json").read_text())
    assert (inside["files"], inside["segmented"]) == (2, 2)
    skipped_out = {
        "path": str(nested / "out"),
        "reason": "the output folder (-o): never read as input",
    }
    assert inside["skipped"] == [skipped_out]
    beside = json.loads((folder / "larvseg-summary.json").read_text())
    assert (beside["files"], beside["segmented"]) == (1, 1)
    reasons = {Path(e["path"]).name: e["reason"] for e in beside["skipped"]}
    assert reasons == {
        "a.json": "not an image file (by its suffix)",
        "a_labels.png": "an output of larvseg segment (in the output folder)",
        "a_overlay.png": "an output of larvseg segment (in the output folder)",
        "larvseg-summary.json": "not an image file (by its suffix)",
        "sub": "a subfolder (give -r to take its images too)",
    }


def test_larvseg_train_eval_checks_its_json_location_first(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before reading the config or loading a model: one line naming the path, exit 2."""
    pytest.importorskip("yaml")
    from larvseg.train.cli import main as train_main

    (tmp_path / "folder").mkdir()
    argv = ["eval", "--config", str(tmp_path / "no.yaml"), "--json", str(tmp_path / "folder")]
    assert train_main(argv) == 2
    assert capsys.readouterr().err == (
        f"larvseg-train: --json {tmp_path / 'folder'} is a folder; give a file name\n"
    )
