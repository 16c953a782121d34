"""A folder run accounts for every entry it met: each one left out is in the summary
with its true reason (broken link, link loop, permission denied, not an image, a
subfolder without -r)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from larvseg.cli.files import find_images

from .conftest import larvseg, make_images


def test_every_entry_left_out_has_its_reason(tmp_path: Path) -> None:
    make_images(tmp_path, ["a.png", "sub/b.png"])
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    (tmp_path / "self.jpg").symlink_to(tmp_path / "self.jpg")  # a link to itself: a loop
    (tmp_path / "sub" / "up").symlink_to(tmp_path)  # a folder loop, met with -r
    (tmp_path / "linked.png").symlink_to(tmp_path / "a.png")  # a good link: the same file
    flat = find_images([str(tmp_path)])
    assert [f.name for f in flat.files] == ["a"]  # linked.png is a.png, kept once
    reasons = {Path(p).name: r for p, r in flat.skipped}
    assert reasons == {
        "gone.jpg": f"a broken symbolic link (to {tmp_path / 'deleted.jpg'}: no such file or "
        "directory)",
        "notes.txt": "not an image file (by its suffix)",
        "self.jpg": "a symbolic link loop",
        "sub": "a subfolder (give -r to take its images too)",
    }
    deep = find_images([str(tmp_path)], recursive=True)
    assert [f.name for f in deep.files] == ["a", "sub/b"]
    assert dict(deep.skipped)[str(tmp_path / "sub" / "up")] == (
        f"a symbolic link loop (back to {tmp_path})"
    )
    assert flat.missing == deep.missing == []
    named = find_images([str(tmp_path / "gone.jpg")])
    assert named.missing == [(str(tmp_path / "gone.jpg"), reasons["gone.jpg"])]


@pytest.mark.slow
def test_unreadable_files_and_folders_are_failures_with_their_reason(
    world_tmp: Path, shared_checkpoint: Path
) -> None:
    folder, out = world_tmp / "in", world_tmp / "out"
    make_images(folder, ["a.png", "secret.png", "closed/c.png"])
    for path in folder.rglob("*"):
        path.chmod(0o777 if path.is_dir() else 0o666)
    folder.chmod(0o777)
    (folder / "secret.png").chmod(0)
    (folder / "closed").chmod(0)
    result = larvseg(
        "segment", str(folder), "-r", "-o", str(out), "--model", str(shared_checkpoint),
        "--device", "cpu", "--workers", "0", user=True,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    summary = json.loads((out / "larvseg-summary.json").read_text())
    assert summary["segmented"] == 1
    assert summary["failed"] == [
        {"path": str(folder / "closed"), "reason": "cannot list this folder: permission denied"},
        {
            "path": str(folder / "secret.png"),
            "reason": "cannot read it (permission denied); check the file's permissions",
        },
    ]
    failures = [line for line in result.stderr.splitlines() if "failed" in line]
    assert len(failures) == 2 and all(line.count(str(folder)) == 1 for line in failures)
    assert os.access(out / "a_labels.png", os.R_OK)
