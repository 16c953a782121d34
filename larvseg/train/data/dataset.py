"""Training data sources: segmentation, multi-label and single-label classification.

Each source (`DataSourceConfig`, one entry of the YAML `data.sources` list) lists its
samples when built, is checked by `SourceDataset.validate()` before training, and
yields augmented samples keyed by `(sample index, draw number)`; see
docs/training-data.md for the on-disk formats (`formats.py` reads them). Mixed
batches: `larvseg.train.data.sampler`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ...errors import ImageError
from ...pipeline.image import load_image
from ...pipeline.preprocess import normalize
from ...vocab.table import wnid_positions
from ..config import DataSourceConfig
from ..errors import DataError
from ..seeding import seed_sequence
from .augment import augment
from .formats import (
    IGNORE_INDEX,
    Sample,
    from_folders,
    from_labels_file,
    pair_label_maps,
    read_class_list,
    read_label_map,
)

IGNORE_ON_DISK = 255  # raw label value meaning "ignore" for class lists of <= 255 entries
SCAN_THREADS = 8
log = logging.getLogger(__name__)


class SourceDataset(torch.utils.data.Dataset):
    """Samples of one source, keyed by `(index, draw)`; see `build_dataset`.

    Attributes:
        config: the source's configuration.
        classes: the source's classes (wnids, no gaps or repeats); targets and labels
            are indices into this list.
        samples: the listed samples.
    """

    def __init__(
        self,
        config: DataSourceConfig,
        samples: list[Sample],
        classes: list[str],
        value_classes: list[str | None] | None,
        mean: Sequence[float],
        std: Sequence[float],
        train: bool,
        seed: int,
    ) -> None:
        self.config, self.samples, self.classes = config, samples, classes
        self.mean, self.std, self.train, self.seed = tuple(mean), tuple(std), train, seed
        self.where = f"data source {config.name!r}"
        if not samples:
            raise DataError(f"{self.where}: no samples found under {config.images}")
        values = value_classes or []
        # -1 (None entries) is also IGNORE_INDEX: unused label values are ignored
        self.value_lut = wnid_positions(classes, values) if values else np.zeros(1, np.int64)
        self.ignore_255 = len(values) <= IGNORE_ON_DISK

    def __len__(self) -> int:
        return len(self.samples)

    def map_labels(self, values: np.ndarray, path: Path) -> np.ndarray:
        """Raw label values `(H, W)` -> source class indices `(H, W)` int64, -1 = ignore.

        Ignored: raw 255 when the class list has at most 255 entries (with more, 255 is
        a class like any other), raw 0 with `reduce_zero_label` (the others shift down
        by one), and values whose class-list entry is empty.
        """
        ignore = values == IGNORE_ON_DISK if self.ignore_255 else np.zeros(values.shape, bool)
        if self.config.reduce_zero_label:
            ignore |= values == 0
            values = values - 1
        values = np.where(ignore, 0, values)
        outside = values >= len(self.value_lut)
        if outside.any():
            bad = np.unique(values[outside] + int(self.config.reduce_zero_label))
            raise DataError(
                f"{self.where}: label map {path} has values {bad[:10].tolist()} outside the "
                f"class list ({len(self.value_lut)} entries); extend `classes` or fix the map"
            )
        return np.where(ignore, IGNORE_INDEX, self.value_lut[values])

    def _check(self, sample: Sample) -> None:
        """Read and map one sample's label map; its size must match the image header."""
        if sample.label_map is None:
            if not sample.image.is_file():
                raise DataError(f"{self.where}: image {sample.image} does not exist")
            return
        labels = self.map_labels(
            read_label_map(sample.label_map, self.config.label_decoder), sample.label_map
        )
        try:
            with Image.open(sample.image) as image:
                size = image.size
        except OSError as err:
            raise DataError(f"{self.where}: cannot read image {sample.image}: {err}") from err
        if size != (labels.shape[1], labels.shape[0]):
            raise DataError(
                f"{self.where}: image {sample.image} is {size[0]}x{size[1]} but its label map "
                f"{sample.label_map} is {labels.shape[1]}x{labels.shape[0]}"
            )

    def validate(self) -> None:
        """Check every sample before training (label maps decoded, images exist); DataError."""
        with ThreadPoolExecutor(SCAN_THREADS) as pool:
            jobs = pool.map(self._check, self.samples)
            checking = f"checking {self.config.name}"
            for _ in tqdm(jobs, total=len(self), desc=checking, disable=None):  # terminal only
                pass

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Sample `index` as stored: `(H, W, 3)` uint8 RGB pixels and its label map as
        source class indices `(H, W)` int64 (`IGNORE_INDEX` = ignore; None for a sample
        without one), or None when the image is unreadable or its size differs from
        its label map (logged)."""
        sample = self.samples[index]
        try:
            image = load_image(sample.image)
        except ImageError as err:
            log.warning("%s: skipping unreadable image %s: %s", self.where, sample.image, err)
            return None
        if sample.label_map is None:
            return image, None
        raw = read_label_map(sample.label_map, self.config.label_decoder)
        label = self.map_labels(raw, sample.label_map)
        if label.shape != image.shape[:2]:
            log.warning("%s: skipping %s: size differs from its label map", self.where, index)
            return None
        return image, label

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any] | None:
        """Sample `index`, augmented with the draw-th random stream (train) or as is.

        Returns `{"image": (3, S, S) float32, "target": (S, S) int64 (segmentation;
        `IGNORE_INDEX` = -1 = ignore, any number of classes) or "labels": (L,) int64
        (image-level), "source", "path"}`, or None for an unreadable image (logged).
        """
        index, draw = (key, 0) if isinstance(key, int) else key
        item = self.read(index)
        if item is None:
            return None
        pixels, label = item
        if self.train:
            rng = np.random.default_rng(seed_sequence(self.seed, self.config.name, index, draw))
            pixels, label = augment(pixels, label, rng, self.config.crop_size, self.ratio)
        sample = self.samples[index]
        out: dict[str, Any] = {
            "image": normalize(pixels, self.mean, self.std),
            "source": self.config.name,
            "path": str(sample.image),
        }
        if sample.labels is not None:
            out["labels"] = torch.tensor(sample.labels, dtype=torch.int64)
        elif label is None:
            raise DataError(f"{self.where}: sample {sample.image} has neither labels nor a map")
        elif self.config.kind == "segmentation":
            out["target"] = torch.from_numpy(np.ascontiguousarray(label, dtype=np.int64))
        else:
            out["labels"] = torch.from_numpy(np.unique(label[label != IGNORE_INDEX]))
        return out

    @property
    def ratio(self) -> float:
        """cat_max_ratio for crops: only segmentation targets use it."""
        return self.config.cat_max_ratio if self.config.kind == "segmentation" else 1.0


def build_dataset(
    config: DataSourceConfig,
    mean: Sequence[float],
    std: Sequence[float],
    train: bool = True,
    seed: int = 0,
) -> SourceDataset:
    """List the samples of `config` (cheap; call `validate()` for the full check).

    `train=False` gives the whole image `(3, H, W)` and full-resolution target/labels.
    Raises DataError for a missing folder or file, an empty source, unpaired files,
    or classes unknown to the class list. Segmentation sources may have any number of
    classes: targets mark ignored pixels with `IGNORE_INDEX` (-1).
    """
    where = f"data source {config.name!r}"
    value_classes = None
    if config.kind == "singlelabel":
        samples, classes = from_folders(config, where)
    elif config.labels_file:
        samples, classes = from_labels_file(config, where)
    else:
        value_classes = read_class_list(config.classes, where)
        if not value_classes:
            raise DataError(f"{where}: `classes` (label value -> wnid) is required with maps")
        samples = pair_label_maps(config, where)
        classes = list(dict.fromkeys(w for w in value_classes if w))
    return SourceDataset(config, samples, classes, value_classes, mean, std, train, seed)


def collate(samples: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Batch samples, dropping None: `image (B, 3, S, S)`, `target (B, S, S)` or
    `labels (B, L)` padded with -1, `source`, `paths`, `skipped` (dropped count).

    When every sample was dropped, only `paths` ([]) and `skipped` are set.
    """
    kept = [s for s in samples if s is not None]
    batch: dict[str, Any] = {"skipped": len(samples) - len(kept), "paths": []}
    if not kept:
        return batch
    batch["paths"] = [s["path"] for s in kept]
    batch["source"] = kept[0]["source"]
    batch["image"] = torch.stack([s["image"] for s in kept])
    if "target" in kept[0]:
        batch["target"] = torch.stack([s["target"] for s in kept])
    if "labels" in kept[0]:
        width = max(len(s["labels"]) for s in kept)
        labels = torch.full((len(kept), width), -1, dtype=torch.int64)
        for row, sample in enumerate(kept):
            labels[row, : len(sample["labels"])] = sample["labels"]
        batch["labels"] = labels
    return batch
