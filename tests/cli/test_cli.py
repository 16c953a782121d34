"""The `larvseg` command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

from larvseg.cli.main import main


def test_segment_writes_labels_overlay_and_json(
    timm_checkpoint: Path, real_images, tmp_path
) -> None:
    images = [str(p) for p in real_images[:2]]
    code = main(
        [
            "segment",
            *images,
            "--model",
            str(timm_checkpoint),
            "--device",
            "cpu",
            "--vocab",
            "animal.n.01",
            "artifact.n.01",
            "-o",
            str(tmp_path),
        ]
    )
    assert code == 0
    for path in real_images[:2]:
        labels = Image.open(tmp_path / f"{path.stem}_labels.png")
        assert labels.size == Image.open(path).size
        info = json.loads((tmp_path / f"{path.stem}.json").read_text())
        names = {c["name"] for c in info["categories"]}
        assert names <= {"animal.n.01", "artifact.n.01"}
        assert (tmp_path / f"{path.stem}_overlay.png").is_file()


def test_a_bad_image_is_reported_and_the_others_still_run(
    timm_checkpoint: Path, real_images, tmp_path, capsys
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image at all")
    good = real_images[0]
    code = main(
        [
            "segment",
            str(broken),
            str(good),
            "--model",
            str(timm_checkpoint),
            "--device",
            "cpu",
            "-o",
            str(tmp_path / "out"),
        ]
    )
    assert code == 1
    assert "broken.jpg" in capsys.readouterr().err
    assert (tmp_path / "out" / f"{good.stem}_labels.png").is_file()


def test_bad_vocabulary_fails_before_reading_images(
    timm_checkpoint: Path, tmp_path, capsys
) -> None:
    code = main(
        [
            "segment",
            str(tmp_path / "missing.jpg"),
            "--model",
            str(timm_checkpoint),
            "--device",
            "cpu",
            "--vocab",
            "moon.n.01",
        ]
    )
    assert code == 2
    assert "moon.n.01" in capsys.readouterr().err


def test_bad_model_is_a_one_line_error(tmp_path, capsys) -> None:
    assert main(["segment", "x.jpg", "--model", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_help_documents_the_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "larvseg", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "segment" in out and "vocab" in out
    out = subprocess.run(
        [sys.executable, "-m", "larvseg", "segment", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--model", "--vocab", "--mode", "--output-dir", "--device", "--bf16"):
        assert option in out
    for option in ("--size", "--window", "--window-step", "--stride", "--batch-size", "-k"):
        assert option in out


def test_help_and_vocab_start_without_torch() -> None:
    """`larvseg --help`, a command's --help and `larvseg vocab` import only what they
    need: no torch or timm (and for --help, not even numpy)."""
    code = """if True:
        import sys
        from larvseg.cli.main import main
        argv = sys.argv[1:]
        try:
            main(argv)
        except SystemExit as stop:
            assert stop.code == 0
        print(sorted(m for m in ("torch", "timm", "numpy") if m in sys.modules), file=sys.stderr)
    """
    for argv, loaded in [
        (["--help"], "[]"),
        (["vocab", "--help"], "[]"),
        (["segment", "--help"], "[]"),
        (["eval", "--help"], "[]"),
        (["vocab", "show", "dog.n.01"], "['numpy']"),
    ]:
        result = subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True
        )
        assert result.stderr.splitlines()[-1] == loaded, argv


def photo_folder(real_images, root: Path, broken: bool = True) -> list[str]:
    """root/x/<photo 0..2>.JPEG and root/<photo 3>.JPEG (+ root/x/broken.jpg): output names."""
    (root / "x").mkdir(parents=True)
    for i, path in enumerate(real_images[:4]):
        shutil.copy(path, root / ("x" if i < 3 else "") / path.name)
    if broken:
        (root / "x" / "broken.jpg").write_bytes(b"not an image")
    return [f"x/{p.stem}" for p in real_images[:3]] + [real_images[3].stem]


def test_a_folder_is_segmented_recursively_and_a_bad_file_ends_in_the_summary(
    timm_checkpoint: Path, real_images, tmp_path, capsys
) -> None:
    names = photo_folder(real_images, tmp_path / "in")
    out = tmp_path / "out"
    args = ["segment", str(tmp_path / "in"), "-r", "--model", str(timm_checkpoint)]
    code = main([*args, "--device", "cpu", "--batch-size", "3", "--workers", "1", "-o", str(out)])
    assert code == 1
    for name in names:
        assert (out / f"{name}_labels.png").is_file() and (out / f"{name}.json").is_file()
    summary = json.loads((out / "larvseg-summary.json").read_text())
    assert summary["files"] == 5 and summary["segmented"] == 4
    assert summary["failed"] == [
        {
            "path": str(tmp_path / "in" / "x" / "broken.jpg"),
            "reason": summary["failed"][0]["reason"],
        }
    ]
    assert summary["failed"][0]["reason"].startswith("not an image Pillow can read")
    assert capsys.readouterr().err.count("broken.jpg") == 1  # the failure line names it once


def test_fail_fast_stops_at_the_first_bad_file(
    timm_checkpoint: Path, real_images, tmp_path
) -> None:
    photo_folder(real_images, tmp_path / "in")
    out = tmp_path / "out"
    code = main(
        [
            "segment",
            str(tmp_path / "in" / "x" / "broken.jpg"),
            str(tmp_path / "in" / "x"),
            "--model",
            str(timm_checkpoint),
            "--device",
            "cpu",
            "--batch-size",
            "1",
            "--fail-fast",
            "-o",
            str(out),
        ]
    )
    assert code == 1
    summary = json.loads((out / "larvseg-summary.json").read_text())
    assert len(summary["failed"]) == 1 and summary["segmented"] == 0  # broken.jpg sorts first
    assert not list(out.glob("*_labels.png"))


def test_preselect_one_gives_one_category_per_image(
    timm_checkpoint: Path, real_images, tmp_path
) -> None:
    """A single window per image (--size 64 on a square crop) and --preselect 1: the
    whole image is the window's top image-level class."""
    photo = tmp_path / "square.png"
    Image.open(real_images[0]).convert("RGB").resize((64, 64)).save(photo)
    args = ["segment", str(photo), "--model", str(timm_checkpoint), "--device", "cpu"]
    assert main([*args, "--size", "64", "--preselect", "1", "-o", str(tmp_path / "out")]) == 0
    info = json.loads((tmp_path / "out" / "square.json").read_text())
    assert len(info["categories"]) == 1
