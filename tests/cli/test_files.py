"""Expanding folders, patterns and files into image files with output names; sharding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from larvseg.cli.files import find_images, shard
from larvseg.errors import InputError


def make_tree(root: Path) -> None:
    """root/a.jpg, root/b.png, root/notes.txt, root/sub/c.jpg, root/sub/deeper/d.JPG"""
    pixels = np.zeros((4, 4, 3), dtype=np.uint8)
    for name in ("a.jpg", "b.png", "sub/c.jpg", "sub/deeper/d.JPG"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / name)
    (root / "notes.txt").write_text("not an image")


def names(found) -> list[tuple[str, str]]:
    return [(f.path.name, f.name) for f in found.files]


def test_a_folder_gives_its_images_named_by_their_relative_path(tmp_path: Path) -> None:
    make_tree(tmp_path)
    assert names(find_images([str(tmp_path)])) == [("a.jpg", "a"), ("b.png", "b")]
    assert names(find_images([str(tmp_path)], recursive=True)) == [
        ("a.jpg", "a"),
        ("b.png", "b"),
        ("c.jpg", "sub/c"),
        ("d.JPG", "sub/deeper/d"),
    ]


def test_patterns_files_and_missing_inputs(tmp_path: Path) -> None:
    make_tree(tmp_path)
    found = find_images(
        [
            str(tmp_path / "sub" / "*.jpg"),
            str(tmp_path / "**" / "*.JPG"),
            str(tmp_path / "notes.txt"),  # named explicitly: taken (and fails when read)
            str(tmp_path / "a.jpg"),
            str(tmp_path / "a.jpg"),  # twice: once
            str(tmp_path / "nothing" / "*.png"),
            str(tmp_path / "gone.jpg"),
        ],
        recursive=True,
    )
    assert names(found) == [("a.jpg", "a"), ("notes.txt", "notes"), ("c.jpg", "c"), ("d.JPG", "d")]
    assert found.missing == [
        (str(tmp_path / "nothing" / "*.png"), "no image file matches this pattern"),
        (str(tmp_path / "gone.jpg"), "no such file or folder"),
    ]


def test_two_files_with_one_output_name_are_refused(tmp_path: Path) -> None:
    make_tree(tmp_path)
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "sub" / "a.png")
    with pytest.raises(InputError, match=r"would both write outputs named 'a'"):
        find_images([str(tmp_path / "a.jpg"), str(tmp_path / "sub" / "a.png")])


def test_shards_of_all_ranks_cover_every_file_once(tmp_path: Path) -> None:
    make_tree(tmp_path)
    files = find_images([str(tmp_path)], recursive=True).files
    shards = [shard(files, rank, 3) for rank in range(3)]
    assert sorted((f for s in shards for f in s), key=str) == sorted(files, key=str)
    assert [len(s) for s in shards] == [2, 1, 1]
