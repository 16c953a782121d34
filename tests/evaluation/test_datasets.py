"""The benchmark readers on small trees in each downloaded layout, with known targets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from larvseg.errors import DataError
from larvseg.evaluation.datasets import benchmark_dataset
from larvseg.evaluation.runner import Skipped
from larvseg.vocab.benchmarks import classes, wnids

WALL, PERSON, DOG = "n04546855", "n00007846", "n02084071"


def stored(rows: list[list[int]]) -> np.ndarray:
    return np.repeat(np.repeat(np.array(rows), 8, axis=0), 8, axis=1)  # 8x8 blocks


def test_ade150_values_shift_down_and_0_is_ignored(
    benchmark_tree: Callable[..., Path], tmp_path: Path
) -> None:
    maps = [stored([[0, 1, 127], [150, 255, 0]]), stored([[1, 1], [2, 3]])]
    root = benchmark_tree(tmp_path, "ade-150", maps)
    for given in (root, root / "ADEChallengeData2016"):  # the download or its parent
        data = benchmark_dataset("ade-150", given)
        assert data.classes == wnids("ade-150") and data.classes[0] == WALL
        assert len(data) == 2
        for i, values in enumerate(maps):
            item = data.read(i)
            assert item is not None
            image, target = item
            assert image.shape == (*values.shape, 3) and image.dtype == np.uint8
            expected = np.where((values >= 1) & (values <= 150), values - 1, -1)
            assert np.array_equal(target, expected)
    assert len(benchmark_dataset("ade-150", root, limit=1)) == 1


def test_coco_stuff_ids_minus_one_unused_and_255_ignored_shared_synsets_merged(
    benchmark_tree: Callable[..., Path], tmp_path: Path
) -> None:
    by_name = {c.name: c for c in classes("coco-stuff-171")}
    marble, wood = (by_name[n].source_ids[0] - 1 for n in ("floor-marble", "floor-wood"))
    dog = by_name["dog"].source_ids[0] - 1
    assert dog == 17  # COCO id 18 (ids 12, 26, ... are unused things)
    values = stored([[0, 11, dog], [255, 181, marble], [wood, wood, 0]])
    data = benchmark_dataset("coco-stuff-171", benchmark_tree(tmp_path, "coco-stuff-171", [values]))
    assert len(data.classes) == 160  # 171 classes, 160 synsets: floors, walls, ... merged
    item = data.read(0)
    assert item is not None
    index = {c.source_ids[0] - 1: data.classes.index(c.wnid) for c in by_name.values()}
    expected = np.vectorize(lambda v: index.get(int(v), -1))(values)
    assert np.array_equal(item[1], expected)
    assert item[1][0, 0] == data.classes.index(PERSON) and item[1][0, 16] == data.classes.index(DOG)
    assert item[1][0, 8] == -1 and item[1][8, 0] == -1  # unused id 12 and unlabeled 255
    assert item[1][8, 16] == item[1][16, 0]  # floor-marble and floor-wood: one synset


def test_ade847_real_full_ade20k_scenes(ade847_tree: Path, shared_data: Path) -> None:
    """Decoded `_seg.png` classes of the 847 map to their class; all else is ignored."""
    data = benchmark_dataset("ade-847", ade847_tree)
    assert len(data) == 3 and len(data.classes) == 747
    assert data.classes == list(dict.fromkeys(wnids("ade-847")))  # label order, not stored
    ade847 = {c.source_ids[0]: data.classes.index(c.wnid) for c in classes("ade-847")}
    labelled = 0
    for i, (image_path, label_path) in enumerate(data.pairs):
        assert label_path == image_path.with_name(image_path.stem + "_seg.png")
        seg = np.asarray(Image.open(label_path).convert("RGB"), dtype=np.int64)
        full = seg[..., 0] // 10 * 256 + seg[..., 1]
        item = data.read(i)
        assert item is not None
        expected = np.vectorize(lambda v: ade847.get(int(v), -1))(full)
        assert np.array_equal(item[1], expected)
        objects = json.loads(image_path.with_suffix(".json").read_text())["annotation"]["object"]
        outside = {o["name_ndx"] for o in objects if o["name_ndx"] not in ade847}
        assert not np.isin(full[item[1] >= 0], [0, *outside]).any()
        labelled += int((item[1] >= 0).sum())
    assert labelled > 0


def test_layout_errors_name_what_is_expected(
    benchmark_tree: Callable[..., Path], tmp_path: Path
) -> None:
    with pytest.raises(DataError, match=r"ADEChallengeData2016 folder as downloaded"):
        benchmark_dataset("ade-150", tmp_path)
    root = benchmark_tree(tmp_path / "a", "ade-150", [stored([[1]])])
    with pytest.raises(DataError, match="unknown split 'test'"):
        benchmark_dataset("ade-150", root, "test")
    with pytest.raises(DataError, match="unknown benchmark"):
        benchmark_dataset("ade-20k", root)
    (root / "ADEChallengeData2016/images/validation/extra.jpg").write_bytes(b"")
    with pytest.raises(DataError, match=r"1 images have no label map, e.g. .*extra.png"):
        benchmark_dataset("ade-150", root)
    coco = benchmark_tree(tmp_path / "c", "coco-stuff-171", [stored([[1]])])
    (coco / "coco_stuff164k/stuffthingmaps_trainval2017/val2017/000000000000.png").unlink()
    (coco / "coco_stuff164k/stuffthingmaps_trainval2017/val2017").rmdir()
    with pytest.raises(DataError, match=r"no label-map folder: tried .*stuffthingmaps"):
        benchmark_dataset("coco-stuff-171", coco)


def test_unreadable_image_is_skipped(benchmark_tree: Callable[..., Path], tmp_path: Path) -> None:
    root = benchmark_tree(tmp_path, "ade-150", [stored([[1]]), stored([[2]])])
    (root / "ADEChallengeData2016/images/validation/000000000000.jpg").write_bytes(b"not a jpeg")
    data = benchmark_dataset("ade-150", root)
    assert data.read(0) == Skipped(
        str(root / "ADEChallengeData2016/images/validation/000000000000.jpg"),
        "not an image Pillow can read (corrupt file or unsupported format); re-export it as "
        "JPEG or PNG",
    )
    assert isinstance(data.read(1), tuple)


def test_label_maps_that_do_not_fit_are_named_with_why(
    benchmark_tree: Callable[..., Path], tmp_path: Path
) -> None:
    maps = [stored([[1, 200], [151, 255]]), stored([[1, 2]]), stored([[1]])]
    root = benchmark_tree(tmp_path, "ade-150", maps)
    labels = root / "ADEChallengeData2016/annotations/validation"
    Image.fromarray(np.ones((8, 16), np.uint8)).save(labels / "000000000002.png")
    data = benchmark_dataset("ade-150", root)
    assert data.read(0) == Skipped(
        str(labels / "000000000000.png"),
        "128 pixels hold values outside the class list (0..150): 151, 200; is it a label map "
        "of ade-150?",
    )  # 255 (ignored in 8-bit maps) is not counted
    assert isinstance(data.read(1), tuple)
    assert data.read(2) == Skipped(
        str(labels / "000000000002.png"),
        "the label map is 16x8 but its image 000000000002.jpg is 8x8",
    )
