"""WebDataset tar shards: indexed once, read by random access, labels and errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from larvseg.errors import DataError
from larvseg.train.config import DataSourceConfig
from larvseg.train.data import dataset as dataset_module
from larvseg.train.data.dataset import build_dataset
from larvseg.train.data.index import DataWarning

webdataset = pytest.importorskip("webdataset")
MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


@pytest.fixture()
def shard_source(
    image_source: Callable[..., DataSourceConfig],
) -> Callable[..., DataSourceConfig]:
    """Factory: `shard_source(folder, kind="multilabel", **fields)`, `format: webdataset`."""
    return lambda folder, kind="multilabel", **fields: image_source(
        folder, "webdataset", kind, **fields
    )


def test_shards_are_indexed_and_read_by_offset(
    tmp_path: Path,
    write_shards: Callable[..., Path],
    shard_source: Callable[..., DataSourceConfig],
    age: Callable[..., None],
) -> None:
    labels = ["n02 n01", "n03", "n01,n01", "n02", "n03 n02 n01"]
    folder = write_shards(tmp_path / "shards", labels, per_shard=2)
    age(folder)
    dataset = build_dataset(shard_source(folder), MEAN, STD, train=False, index_dir=tmp_path / "ix")
    assert dataset.classes == ["n01", "n02", "n03"] and len(dataset) == 5
    assert [dataset.store.labels(i) for i in range(5)] == [(0, 1), (2,), (0,), (1,), (0, 1, 2)]
    assert dataset.store.path(4) == f"{folder / 'shard-002.tar'}:s0004.png"
    for i in range(5):
        item = dataset.read(i)
        assert item is not None
        np.testing.assert_array_equal(item[0], np.full((8, 8, 3), (i, 2 * i, 255 - i), np.uint8))
    sample = dataset[3]
    assert sample is not None and sample["labels"].tolist() == [1]


def test_pattern_numbers_and_singlelabel(
    tmp_path: Path, write_shards: Callable[..., Path], shard_source: Callable[..., DataSourceConfig]
) -> None:
    folder = write_shards(tmp_path / "shards", ["2", "0", "2", "1", "0"], per_shard=2)
    pattern = str(folder / "shard-{000..001}.tar")  # the first two shards only
    config = shard_source(pattern, "singlelabel", classes=["n07", "n08", "n09"])
    dataset = build_dataset(config, MEAN, STD)
    assert len(dataset) == 4 and [dataset.store.labels(i) for i in range(4)] == [
        (2,),
        (0,),
        (2,),
        (1,),
    ]
    with pytest.raises(DataError, match=r"integer labels \(e\.g\. \d\) need `classes`"):
        build_dataset(shard_source(pattern, "singlelabel"), MEAN, STD)
    with pytest.raises(DataError, match=r"shard .*shard-003\.tar does not exist \(1 of 2"):
        build_dataset(shard_source(folder / "shard-{002..003}.tar"), MEAN, STD)


def test_bad_shards_name_the_sample(
    tmp_path: Path, write_shards: Callable[..., Path], shard_source: Callable[..., DataSourceConfig]
) -> None:
    folder = write_shards(tmp_path / "two", ["n01", "n01 n02"])
    with pytest.raises(DataError, match=r"shard-000\.tar:s0001\.png has 2 labels; a singlelabel"):
        build_dataset(shard_source(folder, "singlelabel"), MEAN, STD)
    (tmp_path / "nolabel").mkdir()
    with webdataset.TarWriter(str(tmp_path / "nolabel/a.tar")) as tar:
        tar.write({"__key__": "k1", "png": b"x", "txt": "caption"})
    with pytest.raises(DataError, match=r"sample k1 of .*a\.tar has \['png', 'txt'\]; it needs"):
        build_dataset(shard_source(tmp_path / "nolabel"), MEAN, STD)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no \.tar shards in"):
        build_dataset(shard_source(tmp_path / "empty"), MEAN, STD)


def test_corrupt_member_is_skipped_or_fails(
    tmp_path: Path,
    write_shards: Callable[..., Path],
    shard_source: Callable[..., DataSourceConfig],
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = write_shards(tmp_path / "shards", ["n01", "n02"])
    shard = folder / "shard-000.tar"
    indexed = build_dataset(shard_source(folder), MEAN, STD)
    data = bytearray(shard.read_bytes())
    start = data.find(b"\x89PNG", data.find(b"s0001.png"))
    data[start : start + 8] = b"garbage!"
    shard.write_bytes(bytes(data))
    skip = build_dataset(shard_source(folder), MEAN, STD)
    with caplog.at_level(logging.WARNING):
        assert skip[(1, 0)] is None and skip[(0, 0)] is not None
    assert f"data source 'webdataset': {shard}:s0001.png: cannot decode" in caplog.text
    fail = build_dataset(shard_source(folder), MEAN, STD, bad_samples="fail")
    with pytest.raises(DataError, match=r"s0001\.png: cannot decode .*bad_samples: fail"):
        fail[(1, 0)]
    shard.write_bytes(bytes(data[:start]))  # truncated inside the image of sample 1
    with pytest.raises(
        DataError, match=r"'webdataset': shard .*shard-000\.tar ends before .*s0001"
    ):
        indexed.validate()
    with pytest.raises(DataError, match=r"shard .*shard-000\.tar is cut short: it ends at"):
        build_dataset(shard_source(folder), MEAN, STD, bad_samples="fail")
    with pytest.warns(DataWarning, match=r"1 of its 2 samples listed.* are lost; skipped"):
        assert len(build_dataset(shard_source(folder), MEAN, STD)) == 1


def test_second_build_reads_the_shard_index(
    tmp_path: Path,
    write_shards: Callable[..., Path],
    shard_source: Callable[..., DataSourceConfig],
    age: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = write_shards(tmp_path / "shards", ["n01", "n02", "n03"], per_shard=2)
    age(folder)
    config = shard_source(folder)
    first = build_dataset(config, MEAN, STD, index_dir=tmp_path / "ix")

    def refuse(*args: object) -> None:
        raise AssertionError("listed again")

    monkeypatch.setattr(dataset_module, "list_shards", refuse)
    again = build_dataset(config, MEAN, STD, index_dir=tmp_path / "ix")
    assert [again.store.path(i) for i in range(3)] == [first.store.path(i) for i in range(3)]
    write_shards(tmp_path / "shards", ["n04"])  # rewrites shard-000.tar
    with pytest.raises(AssertionError, match="listed again"):
        build_dataset(config, MEAN, STD, index_dir=tmp_path / "ix")
