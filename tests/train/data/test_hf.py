"""Hugging Face datasets saved on disk: label columns of every kind, rows read as images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from larvseg.errors import DataError
from larvseg.train.config import DataSourceConfig
from larvseg.train.data.dataset import build_dataset

datasets = pytest.importorskip("datasets")
MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
WNIDS = ["n01440764", "n02123045", "n02084071"]


@pytest.fixture()
def hf_source(image_source: Callable[..., DataSourceConfig]) -> Callable[..., DataSourceConfig]:
    """Factory: `hf_source(folder, kind="singlelabel", **fields)`, a `format: hf` source."""
    return lambda folder, kind="singlelabel", **fields: image_source(folder, "hf", kind, **fields)


def test_class_label_names_are_the_classes_and_rows_the_images(
    tmp_path: Path,
    write_hf_dataset: Callable[..., Path],
    hf_source: Callable[..., DataSourceConfig],
) -> None:
    folder = write_hf_dataset(tmp_path / "ds", [2, 0, 1, 2], datasets.ClassLabel(names=WNIDS))
    dataset = build_dataset(hf_source(folder), MEAN, STD, train=False)
    assert dataset.classes == WNIDS and len(dataset) == 4
    assert [dataset.store.labels(i) for i in range(4)] == [(2,), (0,), (1,), (2,)]
    assert dataset.store.path(1) == f"{folder}[1]"
    for i in range(4):
        item = dataset.read(i)
        assert item is not None
        np.testing.assert_array_equal(item[0], np.full((8, 8, 3), (i, 2 * i, 255 - i), np.uint8))
    # `classes` given: the integers index it instead of the ClassLabel names
    other = build_dataset(hf_source(folder, classes=["n09", "n08", "n07"]), MEAN, STD)
    assert other.classes == ["n09", "n08", "n07"] and other.store.labels(0) == (2,)
    with pytest.raises(DataError, match=r"labels \['1'\] of .*ds\[2\] are not in `classes`"):
        build_dataset(hf_source(folder, classes=["n09", None, "n07"]), MEAN, STD)


def test_multilabel_lists_and_wnid_strings(
    tmp_path: Path,
    write_hf_dataset: Callable[..., Path],
    hf_source: Callable[..., DataSourceConfig],
) -> None:
    lists = write_hf_dataset(tmp_path / "lists", [[WNIDS[2], WNIDS[0]], [], [WNIDS[1]] * 2])
    dataset = build_dataset(hf_source(lists, "multilabel"), MEAN, STD)
    assert dataset.classes == sorted(WNIDS)
    assert [dataset.store.labels(i) for i in range(3)] == [(0, 1), (), (2,)]
    strings = write_hf_dataset(tmp_path / "strings", [WNIDS[1], WNIDS[0]])
    single = build_dataset(hf_source(strings), MEAN, STD)
    assert single.classes == sorted(WNIDS[:2]) and single.store.labels(0) == (1,)
    with pytest.raises(DataError, match=r"lists\[0\] has 2 labels; a singlelabel source"):
        build_dataset(hf_source(lists), MEAN, STD)


@pytest.fixture()
def two_rows(tmp_path: Path, write_hf_dataset: Callable[..., Path]) -> Path:
    """A saved dataset of 2 rows, ClassLabel labels 0 and 1."""
    return write_hf_dataset(tmp_path / "ds", [0, 1], datasets.ClassLabel(names=WNIDS[:2]))


def test_splits_folders_and_columns_are_explained(
    tmp_path: Path, two_rows: Path, hf_source: Callable[..., DataSourceConfig]
) -> None:
    datasets.DatasetDict({"train": datasets.load_from_disk(str(two_rows))}).save_to_disk(
        str(tmp_path / "dict")
    )
    with pytest.raises(DataError, match=r"holds the splits \['train'\]; point `images` at one"):
        build_dataset(hf_source(tmp_path / "dict"), MEAN, STD)
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="is not a dataset written by save_to_disk"):
        build_dataset(hf_source(tmp_path / "plain"), MEAN, STD)
    datasets.Dataset.from_dict({"image": ["a"], "caption": ["b"]}).save_to_disk(
        str(tmp_path / "nolabel")
    )
    with pytest.raises(DataError, match=r"columns \['image', 'caption'\]; expected 'image' and"):
        build_dataset(hf_source(tmp_path / "nolabel"), MEAN, STD)


def test_undecodable_row_is_skipped(
    tmp_path: Path, two_rows: Path, hf_source: Callable[..., DataSourceConfig]
) -> None:
    rows = datasets.load_from_disk(str(two_rows)).cast_column("image", datasets.Image(decode=False))
    broken = rows.map(
        lambda row, i: {"image": {"bytes": b"x" * i or row["image"]["bytes"], "path": None}},
        with_indices=True,
    )
    broken.save_to_disk(str(tmp_path / "broken"))
    dataset = build_dataset(hf_source(tmp_path / "broken"), MEAN, STD)
    assert dataset[(0, 0)] is not None and dataset[(1, 0)] is None
    strict = build_dataset(hf_source(tmp_path / "broken"), MEAN, STD, bad_samples="fail")
    with pytest.raises(DataError, match=r"broken\[1\]: cannot decode"):
        strict[(1, 0)]
