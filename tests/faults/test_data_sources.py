"""Caches and data sources heal or say which file is damaged: an index cache that is empty,
truncated or corrupt is listed again with a warning; a shard cut short or a damaged Hugging
Face dataset raises DataError naming the file, or (`bad_samples: skip`) keeps what is whole,
with a warning that counts what was lost; an unusable `data.index_dir` is one line."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from larvseg.errors import DataError
from larvseg.train.config import DataSourceConfig
from larvseg.train.data.dataset import build_dataset
from larvseg.train.data.index import DataWarning, index_path

pytest.importorskip("webdataset")
MEAN = STD = (0.5, 0.5, 0.5)
LABELS = ["n01", "n02", "n01", "n02"]


@pytest.fixture()
def shards(
    tmp_path: Path,
    write_shards: Callable[..., Path],
    image_source: Callable[..., DataSourceConfig],
) -> tuple[Path, DataSourceConfig]:
    folder = write_shards(tmp_path / "shards", LABELS, per_shard=4)
    return folder / "shard-000.tar", image_source(folder, "webdataset", "multilabel")


@pytest.mark.parametrize("damage", ["empty", "truncated", "corrupt"])
def test_a_damaged_index_cache_is_listed_again_with_a_warning(
    tmp_path: Path, shards: tuple[Path, DataSourceConfig], damage: str
) -> None:
    _, source = shards
    index_dir = tmp_path / "index"
    assert len(build_dataset(source, MEAN, STD, index_dir=index_dir)) == 4
    cache = index_path(source, index_dir)
    data = cache.read_bytes()
    damaged = {"empty": b"", "truncated": data[: len(data) // 2], "corrupt": b"x" * len(data)}
    cache.write_bytes(damaged[damage])
    with pytest.warns(DataWarning, match=f"index cache {cache} is damaged .*listing the source"):
        again = build_dataset(source, MEAN, STD, index_dir=index_dir)
    assert len(again) == 4 and cache.read_bytes() != damaged[damage]  # rebuilt and rewritten
    assert len(build_dataset(source, MEAN, STD, index_dir=index_dir)) == 4  # no warning now


def test_an_unusable_index_dir_is_a_one_line_data_error(
    tmp_path: Path, shards: tuple[Path, DataSourceConfig]
) -> None:
    _, source = shards
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError) as caught:
        build_dataset(source, MEAN, STD, index_dir=blocker / "index")
    assert str(caught.value) == (
        f"cannot write data.index_dir {blocker / 'index'}: cannot create folder "
        f"{blocker / 'index'} (not a directory); set data.index_dir to a writable folder, or null"
    )


def test_a_shard_cut_short_fails_or_keeps_its_whole_samples_with_a_count(
    tmp_path: Path, shards: tuple[Path, DataSourceConfig]
) -> None:
    shard, source = shards
    data = shard.read_bytes()
    start = data.find(b"\x89PNG", data.find(b"s0002.png"))
    shard.write_bytes(data[: start + 20])  # inside the image of sample 2 of 4
    with pytest.raises(DataError) as caught:
        build_dataset(source, MEAN, STD, bad_samples="fail")
    expected = (
        f"data source 'webdataset': shard {shard} is cut short: it ends at byte {start + 20}, "
        "inside its data; 1 of its 3 samples listed, and any after them, are lost; write"
    )
    assert str(caught.value)[: len(expected)] == expected
    index_dir = tmp_path / "index"
    with pytest.warns(DataWarning, match=r"1 of its 3 samples listed.*bad_samples: skip"):
        kept = build_dataset(source, MEAN, STD, index_dir=index_dir, bad_samples="skip")
    assert [kept.store.path(i).rsplit(":", 1)[1] for i in range(len(kept))] == [
        "s0000.png",
        "s0001.png",
    ]
    assert all(kept.read(i) is not None for i in range(len(kept)))
    assert not index_path(source, index_dir).exists()  # never cached: every run warns
    with pytest.warns(DataWarning):
        build_dataset(source, MEAN, STD, index_dir=index_dir, bad_samples="skip")


def test_a_damaged_hugging_face_dataset_names_the_file(
    tmp_path: Path,
    write_hf_dataset: Callable[..., Path],
    image_source: Callable[..., DataSourceConfig],
) -> None:
    datasets = pytest.importorskip("datasets")
    names = datasets.ClassLabel(names=["n01", "n02"])
    good = write_hf_dataset(tmp_path / "good", [0, 1, 0, 1], names)
    split = tmp_path / "split"  # two Arrow files of two rows each
    datasets.load_from_disk(str(good)).save_to_disk(str(split), num_shards=2)
    for name in ("state.json", "dataset_info.json"):
        folder = tmp_path / name
        shutil.copytree(good, folder)
        (folder / name).write_text("{not json")
        with pytest.raises(DataError) as caught:
            build_dataset(image_source(folder, "hf", "singlelabel"), MEAN, STD)
        assert str(caught.value).startswith(f"data source 'hf': {folder / name} is damaged (")
    arrow = split / "data-00001-of-00002.arrow"
    arrow.write_bytes(arrow.read_bytes()[:100])
    source = image_source(split, "hf", "singlelabel")
    with pytest.raises(DataError) as caught:
        build_dataset(source, MEAN, STD, bad_samples="fail")
    message = str(caught.value)
    assert message.startswith(
        f"data source 'hf': 1 of the 2 Arrow files of {split} are damaged, e.g. {arrow} (Arrow"
    )
    assert message.endswith("or set data.bad_samples: skip to read the others")
    with pytest.warns(DataWarning, match=r"skipped \(data.bad_samples: skip\): 2 rows read"):
        kept = build_dataset(source, MEAN, STD, bad_samples="skip")
    assert len(kept) == 2 and kept.classes == ["n01", "n02"]
    assert [kept.store.labels(i) for i in range(2)] == [(0,), (1,)]
