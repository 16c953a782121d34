"""Source indexes: compact listings, the cache and its invalidation, label resolution."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from larvseg.errors import DataError
from larvseg.train.config import DataSourceConfig
from larvseg.train.data import dataset as dataset_module
from larvseg.train.data.dataset import SourceDataset, build_dataset
from larvseg.train.data.index import (
    SourceIndex,
    canonical_labels,
    index_path,
    resolve_labels,
)

MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def tree(root: Path, png_bytes: Callable[[int], bytes], counts: dict[str, int]) -> Path:
    """An ImageNet-style tree: `counts[wnid]` PNGs in `root/<wnid>/`, plus a text file."""
    value = 0
    for wnid, count in counts.items():
        (root / wnid).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (root / wnid / f"{wnid}_{i}.png").write_bytes(png_bytes(value))
            value += 1
        (root / wnid / "notes.txt").write_text("not an image")
    return root


def build(config: DataSourceConfig, index_dir: Path) -> SourceDataset:
    return build_dataset(config, MEAN, STD, index_dir=index_dir)


def listing(dataset: SourceDataset) -> list[tuple[str, Any]]:
    return [(dataset.store.path(i), dataset.store.labels(i)) for i in range(len(dataset))]


def test_folder_index_round_trip_is_compact(
    tmp_path: Path, png_bytes: Callable[[int], bytes], age: Callable[..., None]
) -> None:
    root = tree(tmp_path / "in", png_bytes, {"n02": 3, "n01": 2, "n03": 0})
    age(root)
    config = DataSourceConfig("in", "singlelabel", str(root))
    dataset = build(config, tmp_path / "index")
    assert dataset.classes == ["n01", "n02", "n03"]  # empty folders are classes too
    expected = [(str(root / "n01" / f"n01_{i}.png"), (0,)) for i in range(2)]
    expected += [(str(root / "n02" / f"n02_{i}.png"), (1,)) for i in range(3)]
    assert listing(dataset) == expected
    assert dataset.index_file is not None
    loaded = SourceIndex.load(dataset.index_file)
    index = dataset.store.index  # type: ignore[attr-defined]
    for name, array in index.arrays().items():
        np.testing.assert_array_equal(loaded.arrays()[name], array)
    assert loaded.label_ends is None and loaded.members is None  # one label each, files
    # folder id (4) + name end (8) + label (4) + the name itself (8 bytes: n01_0.png)
    assert index.nbytes == 5 * (4 + 8 + 4) + sum(len(f"n0x_{i}.png") for i in (0, 1, 0, 1, 2))


def test_second_build_reads_the_index_until_a_folder_changes(
    tmp_path: Path,
    png_bytes: Callable[[int], bytes],
    age: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tree(tmp_path / "in", png_bytes, {"n01": 2, "n02": 2})
    age(root)
    config = DataSourceConfig("in", "singlelabel", str(root))
    first = listing(build(config, tmp_path / "index"))
    calls: list[str] = []
    real = dataset_module.list_files

    def counting(config: DataSourceConfig, where: str) -> SourceIndex:
        calls.append(config.name)
        return real(config, where)

    monkeypatch.setattr(dataset_module, "list_files", counting)
    assert listing(build(config, tmp_path / "index")) == first and calls == []
    (root / "n02" / "n02_9.png").write_bytes(png_bytes(9))  # the folder's mtime changes
    again = build(config, tmp_path / "index")
    assert calls == ["in"] and listing(again)[-1] == (str(root / "n02" / "n02_9.png"), (1,))
    # listed right after the change: not trusted (same-tick edits), listed once more
    build(config, tmp_path / "index")
    assert calls == ["in", "in"]
    age(root)
    build(config, tmp_path / "index")
    build(config, tmp_path / "index")
    assert calls == ["in", "in", "in"]


def test_classes_file_change_and_other_fields_give_other_indexes(
    tmp_path: Path, png_bytes: Callable[[int], bytes], age: Callable[..., None]
) -> None:
    root = tree(tmp_path / "in", png_bytes, {"n01": 1, "n02": 1})
    classes = tmp_path / "classes.txt"
    classes.write_text("n02\nn01\n")
    age(tmp_path)
    config = DataSourceConfig("in", "singlelabel", str(root), classes=str(classes))
    assert build(config, tmp_path / "index").classes == ["n02", "n01"]
    renamed = dataclasses.replace(config, name="other", batch_size=7, crop_size=64)
    assert index_path(renamed, tmp_path / "index") == index_path(config, tmp_path / "index")
    assert index_path(dataclasses.replace(config, image_suffix=".png"), tmp_path) != index_path(
        config, tmp_path
    )
    classes.write_text("n01\nn02\nn03\n")
    os.utime(classes, (1, 1))
    assert build(config, tmp_path / "index").classes == ["n01", "n02", "n03"]


def test_pair_listing_keeps_sorted_path_order(
    tmp_path: Path, write_pair: Any, label_values: Any, age: Callable[..., None]
) -> None:
    names = ["b/x", "a/z", "a.b/y", "a/b/w", "c"]
    for name in names:
        write_pair(
            tmp_path / "img" / f"{name}.jpg", tmp_path / "ann" / f"{name}.png", label_values()
        )
    config = DataSourceConfig(
        "pairs",
        "segmentation",
        str(tmp_path / "img"),
        annotations=str(tmp_path / "ann"),
        classes=[f"n{i:08d}" for i in range(8)],
    )
    age(tmp_path)
    for _ in range(2):  # listed, then read from the index
        dataset = build(config, tmp_path / "index")
        assert [dataset.store.path(i) for i in range(len(dataset))] == [
            str(p) for p in sorted((tmp_path / "img").rglob("*.jpg"))
        ]
        assert dataset.store.label_map(0) == tmp_path / "ann/a/b/w.png"


def test_validate_is_remembered_by_the_index(
    tmp_path: Path,
    ade_layout: Any,
    ade_source: Any,
    age: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = ade_source(ade_layout(tmp_path / "ade", count=2))
    age(tmp_path / "ade")
    build(config, tmp_path / "index").validate()
    checked: list[int] = []
    monkeypatch.setattr(SourceDataset, "_check", lambda self, i: checked.append(i))
    build(config, tmp_path / "index").validate()
    assert checked == []
    assert build_dataset(config, MEAN, STD).index_file is None  # no index: checked each time
    (tmp_path / "ade/images/training/ADE_train_00000002.jpg").unlink()
    (tmp_path / "ade/annotations/training/ADE_train_00000002.png").unlink()
    build(config, tmp_path / "index").validate()  # a new listing is checked again
    assert checked == [0]


def test_unreadable_index_is_listed_again(
    tmp_path: Path, png_bytes: Callable[[int], bytes], age: Callable[..., None]
) -> None:
    root = tree(tmp_path / "in", png_bytes, {"n01": 2})
    age(root)
    config = DataSourceConfig("in", "singlelabel", str(root))
    path = build(config, tmp_path / "index").index_file
    assert path is not None
    path.write_bytes(b"not an npz")
    assert len(build(config, tmp_path / "index")) == 2
    assert len(SourceIndex.load(path)) == 2


def test_resolve_labels_wnids_numbers_and_errors() -> None:
    raw = ["n05", None, "n07", "n05"]
    classes, lut = resolve_labels(["2", "n05", "3", "1", "n09", "7"], raw, "src")
    assert classes == ["n05", "n07"]
    assert lut.tolist() == [1, 0, 0, -1, -1, -1]
    classes, lut = resolve_labels(["n3", "n1", "n3"], None, "src")
    assert classes == ["n1", "n3"] and lut.tolist() == [1, 0, 1]
    classes, lut = resolve_labels(["7"], ["7", "x"], "src", numbered=False)
    assert lut.tolist() == [0]
    with pytest.raises(DataError, match=r"src: integer labels \(e\.g\. 4\) need `classes`"):
        resolve_labels(["n1", "4"], None, "src")


def test_canonical_labels_sort_and_merge_each_sample() -> None:
    labels, ends = canonical_labels(np.array([3, 1, 3, 2, 2, 0]), np.array([3, 3, 5, 6]))
    assert labels.tolist() == [1, 3, 2, 0] and ends is not None and ends.tolist() == [2, 2, 3, 4]
    labels, ends = canonical_labels(np.array([4, 4, 5]), np.array([2, 3]))
    assert labels.tolist() == [4, 5] and ends is None
