"""Small on-disk training sources for the data-layer tests (written into tmp folders).

Each writer is a factory fixture: a test asks for `ade_layout` and calls it.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from larvseg.train.config import DataSourceConfig

WNIDS = [f"n0{i:07d}" for i in range(1, 11)]  # the classes `ade_source` lists (first 8)


def _write_pair(image: Path, label: Path, values: np.ndarray, seed: int = 0) -> None:
    """A random RGB JPEG and a mode-L label PNG holding `values` `(H, W)`."""
    rng = np.random.default_rng(seed)
    image.parent.mkdir(parents=True, exist_ok=True)
    label.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, (*values.shape, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(image, quality=95)
    Image.fromarray(values.astype(np.uint8), mode="L").save(label)


def _label_values(h: int = 48, w: int = 64, values: tuple[int, ...] = (0, 3, 7)) -> np.ndarray:
    """A label map made of vertical bands of `values`."""
    bands = np.array_split(np.arange(w), len(values))
    out = np.zeros((h, w), dtype=np.int64)
    for value, cols in zip(values, bands, strict=True):
        out[:, cols] = value
    return out


def _ade_layout(root: Path, count: int = 3, values: tuple[int, ...] = (0, 3, 7)) -> Path:
    """ADEChallengeData2016 layout: images/training/*.jpg + annotations/training/*.png."""
    for i in range(count):
        name = f"ADE_train_{i + 1:08d}"
        _write_pair(
            root / "images/training" / f"{name}.jpg",
            root / "annotations/training" / f"{name}.png",
            _label_values(values=values),
            seed=i,
        )
    return root


def _ade_source(root: Path, **overrides: object) -> DataSourceConfig:
    """A segmentation source over `ade_layout(root)` with 8 label values, reduce_zero_label."""
    fields: dict = {
        "name": "ade",
        "kind": "segmentation",
        "images": str(root / "images/training"),
        "annotations": str(root / "annotations/training"),
        "classes": WNIDS[:8],
        "reduce_zero_label": True,
        "crop_size": 32,
    }
    return DataSourceConfig(**{**fields, **overrides})


def _imagenet_tree(root: Path, sources: list[Path]) -> Path:
    """An ImageNet folder tree `root/<wnid>/<name>.JPEG` of symlinks to `<wnid>_<name>.JPEG`."""
    for source in sources:
        wnid, name = source.name.split("_", 1)
        (root / wnid).mkdir(parents=True, exist_ok=True)
        (root / wnid / name).symlink_to(source.resolve())
    return root


def _png(value: int) -> bytes:
    """An 8x8 PNG whose pixels are all `(value, 2 * value % 256, 255 - value)`."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), (value, 2 * value % 256, 255 - value), np.uint8)).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


def _write_shards(folder: Path, labels: Sequence[str], per_shard: int = 4) -> Path:
    """WebDataset shards `folder/shard-<k>.tar` written with `webdataset.TarWriter`:
    sample i is `s<i>.png` (`_png(i)`) and `s<i>.cls` (`labels[i]`), `per_shard` a shard."""
    import webdataset

    folder.mkdir(parents=True, exist_ok=True)
    for first in range(0, len(labels), per_shard):
        with webdataset.TarWriter(str(folder / f"shard-{first // per_shard:03d}.tar")) as tar:
            for i in range(first, min(first + per_shard, len(labels))):
                tar.write({"__key__": f"s{i:04d}", "png": _png(i), "cls": labels[i]})
    return folder


def _write_hf_dataset(folder: Path, labels: Sequence[Any], feature: Any = None) -> Path:
    """A Hugging Face dataset saved in `folder`: row i has image `_png(i)` and `labels[i]`
    (column "label", or "labels" for lists), of the `datasets` feature `feature`."""
    import datasets

    column = "labels" if isinstance(labels[0], list) else "label"
    features = datasets.Features({"image": datasets.Image(), column: feature}) if feature else None
    rows = {"image": [{"bytes": _png(i), "path": None} for i in range(len(labels))]}
    dataset = datasets.Dataset.from_dict({**rows, column: list(labels)}, features=features)
    dataset.save_to_disk(str(folder))
    return folder


def _age(root: Path, seconds: float = 3600) -> None:
    """Set the modification time of `root` and everything under it `seconds` back, so
    an index built now trusts them (changes right before a listing are not trusted)."""
    then = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (then, then), follow_symlinks=False)


def _image_source(
    folder: Path | str, format: str, kind: str = "singlelabel", **fields: Any
) -> DataSourceConfig:
    """An image-level source named after its `format`, over `folder`, 8-pixel crops."""
    return DataSourceConfig(format, kind, str(folder), format=format, crop_size=8, **fields)  # type: ignore[arg-type]


@pytest.fixture()
def image_source() -> Callable[..., DataSourceConfig]:
    """Factory: `image_source(folder, format, kind="singlelabel", **fields)`."""
    return _image_source


@pytest.fixture()
def png_bytes() -> Callable[[int], bytes]:
    """Factory: `png_bytes(value)`, an 8x8 PNG of the colour (v, 2v % 256, 255 - v)."""
    return _png


@pytest.fixture()
def write_shards() -> Callable[..., Path]:
    """Factory: `write_shards(folder, labels, per_shard=4)`, WebDataset shards of PNGs."""
    pytest.importorskip("webdataset")
    return _write_shards


@pytest.fixture()
def write_hf_dataset() -> Callable[..., Path]:
    """Factory: `write_hf_dataset(folder, labels, feature=None)`, a saved HF dataset."""
    pytest.importorskip("datasets")
    return _write_hf_dataset


@pytest.fixture()
def age() -> Callable[..., None]:
    """Factory: `age(root, seconds=3600)`, backdate `root` and all under it."""
    return _age


@pytest.fixture()
def write_pair() -> Callable[..., None]:
    """Factory: `write_pair(image, label, values, seed=0)`, a random JPEG + mode-L label PNG."""
    return _write_pair


@pytest.fixture()
def label_values() -> Callable[..., np.ndarray]:
    """Factory: `label_values(h=48, w=64, values=(0, 3, 7))`, a map of vertical bands."""
    return _label_values


@pytest.fixture()
def ade_layout() -> Callable[..., Path]:
    """Factory: `ade_layout(root, count=3, values=(0, 3, 7))`, ADEChallengeData2016 layout."""
    return _ade_layout


@pytest.fixture()
def ade_source() -> Callable[..., DataSourceConfig]:
    """Factory: `ade_source(root, **overrides)`, a segmentation source over `ade_layout`."""
    return _ade_source


@pytest.fixture()
def imagenet_tree() -> Callable[..., Path]:
    """Factory: `imagenet_tree(root, photos)`, `root/<wnid>/<name>.JPEG` symlinks."""
    return _imagenet_tree


@pytest.fixture()
def source_wnids() -> list[Any]:
    """The wnids the sources of `ade_source` list (label value i + 1 -> wnid i)."""
    return list(WNIDS)
