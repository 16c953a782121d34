"""Training data sources: layouts, class mapping, validation errors, skips, reproducibility."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from timm.data import ImageNetInfo

from larvseg.errors import DataError
from larvseg.evaluation.labelmaps import IGNORE_INDEX, ClassListWarning, read_label_map
from larvseg.evaluation.metrics import ConfusionMatrix
from larvseg.train.config import DataSourceConfig
from larvseg.train.data.dataset import SourceDataset, build_dataset, collate
from larvseg.vocab.benchmarks import wnids

MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def built(config: DataSourceConfig, train: bool = True) -> SourceDataset:
    dataset = build_dataset(config, MEAN, STD, train=train, seed=0)
    dataset.validate()
    return dataset


def ade_full_class_indices(folder: Path) -> set[int]:
    """The `name_ndx` of every object in the full-ADE20K scene JSON files of `folder`."""
    present: set[int] = set()
    for path in sorted(folder.glob("*.json")):
        objects = json.loads(path.read_text())["annotation"]["object"]
        present |= {o["name_ndx"] for o in objects}
    return present


def test_reduce_zero_label_maps_0_3_7_to_ignore_2_6(
    ade_layout: Any, ade_source: Any, source_wnids: Any, tmp_path: Path
) -> None:
    dataset = built(ade_source(ade_layout(tmp_path)), train=False)
    sample = dataset[0]
    assert sample is not None and sample["image"].shape == (3, 48, 64)
    assert set(sample["target"].unique().tolist()) == {IGNORE_INDEX, 2, 6}
    assert dataset.classes == source_wnids[:8]


def test_shipped_ade150_map_reads_the_stored_values(
    ade_layout: Any, ade_source: Any, tmp_path: Path
) -> None:
    """`classes: benchmark:ade-150` on ADEChallengeData2016 maps: stored 3 and 7 are ADE-150
    classes 2 and 6 (0 = "other" ignored, no reduce_zero_label); validate() warns that the
    148 other listed classes never occur."""
    source = ade_source(ade_layout(tmp_path), classes="benchmark:ade-150", reduce_zero_label=False)
    dataset = built(source, train=False)
    assert dataset.classes == wnids("ade-150")
    item = dataset.read(0)
    assert item is not None and item[1] is not None
    assert set(np.unique(item[1]).tolist()) == {IGNORE_INDEX, 2, 6}
    with pytest.warns(ClassListWarning, match=r"'ade': 148 of its 150 listed classes never"):
        dataset.validate()


def test_coco_stuff_layout_with_unused_values_and_on_disk_255_ignored(
    write_pair: Any, label_values: Any, source_wnids: Any, tmp_path: Path
) -> None:
    values = label_values(values=(0, 2, 5, 255))
    write_pair(
        tmp_path / "images/train2017/000000000009.jpg",
        tmp_path / "stuffthingmaps/train2017/000000000009.png",
        values,
    )
    classes = [
        source_wnids[0],
        None,
        source_wnids[2],
        "",
        source_wnids[0],
        source_wnids[5],
    ]  # 1, 3 unused; 4 repeats 0
    config = DataSourceConfig(
        "coco_stuff",
        "segmentation",
        str(tmp_path / "images/train2017"),
        annotations=str(tmp_path / "stuffthingmaps/train2017"),
        classes=classes,
        crop_size=32,
    )
    dataset = built(config, train=False)
    assert dataset.classes == [source_wnids[0], source_wnids[2], source_wnids[5]]
    sample = dataset[0]
    assert sample is not None
    assert set(sample["target"].unique().tolist()) == {0, 1, 2, IGNORE_INDEX}


def test_out_of_range_value_fails_validation_naming_file_and_value(
    ade_layout: Any, ade_source: Any, tmp_path: Path
) -> None:
    ade_layout(tmp_path, count=2, values=(0, 3, 9))
    dataset = build_dataset(ade_source(tmp_path), MEAN, STD)
    with pytest.raises(DataError, match=r"ADE_train_0000000[12]\.png has values \[9\]"):
        dataset.validate()


def test_missing_folder_empty_source_and_unpaired_files(
    ade_layout: Any, ade_source: Any, tmp_path: Path
) -> None:
    with pytest.raises(
        DataError, match=r"'ade': image folder .*nowhere/images/training does not exist"
    ):
        build_dataset(ade_source(tmp_path / "nowhere"), MEAN, STD)
    (tmp_path / "empty/images/training").mkdir(parents=True)
    (tmp_path / "empty/annotations/training").mkdir(parents=True)
    with pytest.raises(DataError, match="'ade': no samples found under"):
        build_dataset(ade_source(tmp_path / "empty"), MEAN, STD)
    ade_layout(tmp_path / "unpaired", count=2)
    (tmp_path / "unpaired/annotations/training/ADE_train_00000002.png").unlink()
    with pytest.raises(DataError, match=r"1 files have no matching label map.*00000002\.jpg"):
        build_dataset(ade_source(tmp_path / "unpaired"), MEAN, STD)


def test_size_mismatch_and_rgb_label_maps_fail_validation(
    ade_layout: Any, ade_source: Any, tmp_path: Path
) -> None:
    ade_layout(tmp_path, count=1)
    label = tmp_path / "annotations/training/ADE_train_00000001.png"
    Image.new("L", (10, 10)).save(label)
    with pytest.raises(DataError, match="is 64x48 but its label map"):
        built(ade_source(tmp_path))
    Image.new("RGB", (64, 48)).save(label)
    with pytest.raises(DataError, match="PIL mode RGB"):
        built(ade_source(tmp_path))


def test_corrupt_image_is_skipped_and_counted(
    ade_layout: Any, ade_source: Any, tmp_path: Path
) -> None:
    dataset = built(ade_source(ade_layout(tmp_path, count=2)))
    Path(dataset.store.path(1)).write_bytes(b"not a jpeg")
    samples = [dataset[(0, 0)], dataset[(1, 1)]]
    assert samples[1] is None
    batch = collate(samples)
    assert batch["skipped"] == 1 and batch["image"].shape == (1, 3, 32, 32)
    assert collate([None]) == {"skipped": 1, "paths": []}


def test_same_draw_same_sample_other_draw_other_crop(
    ade_layout: Any, ade_source: Any, tmp_path: Path
) -> None:
    dataset = built(ade_source(ade_layout(tmp_path, count=1), crop_size=24))
    first, again, other = dataset[(0, 4)], dataset[(0, 4)], dataset[(0, 5)]
    assert first is not None and again is not None and other is not None
    assert torch.equal(first["image"], again["image"])
    assert torch.equal(first["target"], again["target"])
    assert not torch.equal(first["image"], other["image"])


def test_classes_file_and_config_errors(
    ade_layout: Any, ade_source: Any, source_wnids: Any, tmp_path: Path
) -> None:
    ade_layout(tmp_path, count=1)
    listing = tmp_path / "classes.txt"
    listing.write_text("\n".join([*source_wnids[:3], "-", *source_wnids[4:8]]) + "\n")
    dataset = built(ade_source(tmp_path, classes=str(listing)), train=False)
    assert dataset.classes == source_wnids[:3] + source_wnids[4:8]
    sample = dataset[0]
    assert sample is not None and set(sample["target"].unique().tolist()) == {IGNORE_INDEX, 2, 5}
    with pytest.raises(DataError, match="'ade': batch_size must be >= 1"):
        ade_source(tmp_path, batch_size=0)
    with pytest.raises(DataError, match="kind must be one of"):
        ade_source(tmp_path, kind="detection")


def test_segmentation_with_300_classes_16bit_map(
    write_pair: Any, label_values: Any, tmp_path: Path
) -> None:
    """More than 255 classes: raw 255 and 299 are real classes, -1 only where ignored."""
    wnids = ImageNetInfo("imagenet-21k-goog").label_names()[:300]
    listing = tmp_path / "classes.txt"
    listing.write_text("\n".join(wnids) + "\n")
    values = label_values(values=(0, 254, 255, 299))
    image, label = tmp_path / "images/a.jpg", tmp_path / "annotations/a.png"
    write_pair(image, label, values)
    Image.fromarray(values.astype(np.uint16)).convert("I;16").save(label)
    with Image.open(label) as stored:
        assert stored.mode == "I;16"
    np.testing.assert_array_equal(read_label_map(label), values)
    config = DataSourceConfig(
        "ade847",
        "segmentation",
        str(tmp_path / "images"),
        annotations=str(tmp_path / "annotations"),
        classes=str(listing),
        crop_size=32,
    )
    dataset = built(config, train=False)
    assert dataset.classes == wnids
    sample = dataset[0]
    assert sample is not None and sample["target"].dtype == torch.int64
    np.testing.assert_array_equal(sample["target"].numpy(), values)  # nothing ignored
    crop = built(config)[(0, 3)]
    assert crop is not None and set(crop["target"].unique().tolist()) <= {-1, 0, 254, 255, 299}
    # reduce_zero_label: raw 0 -> ignore (-1), v -> v - 1; 255 is still a class (254)
    reduced = built(dataclasses.replace(config, reduce_zero_label=True), train=False)[0]
    assert reduced is not None
    np.testing.assert_array_equal(
        reduced["target"].numpy(), np.where(values == 0, IGNORE_INDEX, values - 1)
    )
    # evaluation counts the classes above 254 (the target straight into the confusion matrix)
    confusion = ConfusionMatrix(len(wnids))
    confusion.update(sample["target"], sample["target"])
    pixels = confusion.target_pixels()
    assert pixels[299] == pixels[255] == (values == 299).sum() > 0
    assert pixels.sum() == values.size and confusion.iou()[299] == 1.0
    confusion.update(reduced["target"].clamp(min=0), reduced["target"])
    assert confusion.target_pixels()[298] == (values == 299).sum()
    assert confusion.target_pixels().sum() == 2 * values.size - (values == 0).sum()


def ade_full_source(folder: Path, name: str, kind: str, classes: list) -> DataSourceConfig:
    """A source over the real full-ADE20K scenes (`_seg.png` maps, class = R // 10 * 256 + G)."""
    return DataSourceConfig(
        name,
        kind,  # type: ignore[arg-type]
        str(folder),
        annotations=str(folder),
        label_suffix="_seg.png",
        label_decoder="ade20k_full",
        classes=classes,
        crop_size=64,
    )


def test_segmentation_on_real_full_ade20k_maps(shared_data: Path) -> None:
    """Full ADE20K `_seg.png` (3000+ classes) as a segmentation source; 0 = unlabelled."""
    folder = shared_data / "ade20k-full"
    present = ade_full_class_indices(folder)
    classes = [None, *(f"n{v:08d}" for v in range(1, max(present) + 1))]  # 0: unlabelled
    config = ade_full_source(folder, "ade_full", "segmentation", classes)
    dataset = built(config, train=False)
    assert len(dataset.classes) == max(present) > 255
    raw = read_label_map(folder / "ADE_train_00016869_seg.png", "ade20k_full")
    names = [Path(dataset.store.path(i)).name for i in range(len(dataset))]
    sample = dataset[names.index("ADE_train_00016869.jpg")]
    assert sample is not None
    np.testing.assert_array_equal(sample["target"].numpy(), np.where(raw == 0, -1, raw - 1))
    assert {311, 400, 2419} <= set(sample["target"].unique().tolist())  # raw 312, 401, 2420
    crop = built(config)[(0, 0)]
    assert crop is not None and crop["target"].shape == (64, 64) and crop["target"].min() >= -1


def test_multilabel_labels_file(ade_layout: Any, source_wnids: Any, tmp_path: Path) -> None:
    ade_layout(tmp_path, count=2)
    lines = [
        {"image": "ADE_train_00000001.jpg", "labels": [source_wnids[3], source_wnids[1]]},
        {"image": "ADE_train_00000002.jpg", "labels": [source_wnids[2]]},
    ]
    labels_file = tmp_path / "labels.jsonl"
    labels_file.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    config = DataSourceConfig(
        "weak",
        "multilabel",
        str(tmp_path / "images/training"),
        labels_file=str(labels_file),
        crop_size=32,
    )
    dataset = built(config)
    assert dataset.classes == [source_wnids[1], source_wnids[2], source_wnids[3]]
    batch = collate([dataset[(0, 0)], dataset[(1, 1)]])
    assert batch["labels"].tolist() == [[0, 2], [1, -1]] and "target" not in batch
    bad = DataSourceConfig(
        "weak",
        "multilabel",
        str(tmp_path / "images/training"),
        labels_file=str(labels_file),
        classes=[*source_wnids[:2]],
    )
    with pytest.raises(DataError, match=r"labels \['n00000004'\] .* not in `classes`"):
        build_dataset(bad, MEAN, STD)
    (tmp_path / "images/training/ADE_train_00000002.jpg").unlink()
    with pytest.raises(DataError, match=r"ADE_train_00000002\.jpg does not exist"):
        built(config)


def test_multilabel_from_real_full_ade20k_maps(shared_data: Path) -> None:
    folder = shared_data / "ade20k-full"
    present = ade_full_class_indices(folder)
    classes = [f"n{v:08d}" if v in present else None for v in range(max(present) + 1)]
    config = ade_full_source(folder, "weak_ade", "multilabel", classes)
    dataset = built(config)
    assert len(dataset) == 3
    raw = read_label_map(folder / "ADE_train_00016869_seg.png", "ade20k_full")
    assert {312, 401, 2420} <= set(np.unique(raw).tolist())
    whole = build_dataset(config, MEAN, STD, train=False)[0]
    assert whole is not None
    names = [dataset.classes[i] for i in whole["labels"].tolist()]
    assert {"n00000312", "n00000401", "n00002420"} <= set(names)
    crop = dataset[(0, 0)]
    assert crop is not None and crop["image"].shape == (3, 64, 64)
    assert set(crop["labels"].tolist()) <= set(whole["labels"].tolist())


def test_singlelabel_real_imagenet_tree(
    imagenet_tree: Any, source_wnids: Any, tmp_path: Path, real_images: list[Path]
) -> None:
    tree = imagenet_tree(tmp_path / "imagenet", real_images)
    config = DataSourceConfig("imagenet", "singlelabel", str(tree), crop_size=320)
    dataset = built(config)
    assert dataset.classes == sorted(p.name.split("_")[0] for p in real_images)
    assert len(dataset) == len(real_images)
    for index in (0, len(dataset) - 1):
        sample = dataset[(index, 0)]
        assert sample is not None and sample["image"].shape == (3, 320, 320)
        wnid = Path(sample["path"]).parent.name
        assert dataset.classes[int(sample["labels"][0])] == wnid
    other = DataSourceConfig("imagenet", "singlelabel", str(tree), classes=[*source_wnids])
    with pytest.raises(DataError, match=r"class folders .* are not in `classes`"):
        build_dataset(other, MEAN, STD)
