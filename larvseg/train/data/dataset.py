"""Training data sources: segmentation, multi-label and single-label classification.

Each source (`DataSourceConfig`, one entry of the YAML `data.sources` list) lists its
samples when built (a `SourceIndex`, cached in `index_dir` and reused while the data
is unchanged), can be checked in full by `SourceDataset.validate()` before training,
and yields augmented samples keyed by `(sample index, draw number)`; every sample is
checked again when read. See docs/training-data.md for the on-disk formats
(`formats.py`: files; `shards.py`: WebDataset tars; `hf.py`: Hugging Face datasets).
Mixed batches: `larvseg.train.data.sampler`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ...atomic import check_output_folder
from ...errors import DataError, ImageError, OutputError
from ...evaluation.labelmaps import (
    IGNORE_INDEX,
    class_wnids,
    read_class_list,
    read_label_map,
    warn_unused_classes,
)
from ...pipeline.preprocess import normalize
from ...vocab.benchmarks import BENCHMARK_PREFIX
from ...vocab.table import wnid_positions
from ..config import DataSourceConfig
from ..seeding import seed_sequence
from .augment import augment
from .formats import FileSamples, list_files
from .hf import HFSamples
from .index import index_path, load_index, stamp
from .shards import ShardSamples, list_shards

IGNORE_ON_DISK = 255  # raw label value meaning "ignore" for class lists of <= 255 entries
SCAN_THREADS = 8
SCAN_CHUNK = 4096
log = logging.getLogger(__name__)


class SampleStore(Protocol):
    """How a source's samples are read: `FileSamples`, `ShardSamples` or `HFSamples`.

    `path(i)` names sample `i` in messages; `image(i)` is `(H, W, 3)` uint8 RGB (raises
    ImageError); `label_map(i)` the file of its label map, if any; `check(i)` the cheap
    part of the eager check (raises DataError).
    """

    classes: list[str]

    def __len__(self) -> int: ...

    def path(self, index: int) -> str: ...

    def labels(self, index: int) -> tuple[int, ...] | None: ...

    def label_map(self, index: int) -> Path | None: ...

    def image(self, index: int) -> np.ndarray: ...

    def check(self, index: int) -> None: ...


class SourceDataset(torch.utils.data.Dataset):
    """Samples of one source, keyed by `(index, draw)`; see `build_dataset`.

    Attributes:
        config: the source's configuration.
        classes: the source's classes (wnids, no gaps or repeats); targets and labels
            are indices into this list.
        store: how its samples are read.
        bad_samples: "skip" (log and return None) or "fail" (DataError) for a sample
            that cannot be read.
        index_file: the cached listing (its `.checked` mark records a passed `validate`),
            or None.
    """

    def __init__(
        self,
        config: DataSourceConfig,
        store: SampleStore,
        value_classes: list[str | None] | None,
        mean: Sequence[float],
        std: Sequence[float],
        train: bool,
        seed: int,
        bad_samples: Literal["skip", "fail"] = "skip",
        index_file: Path | None = None,
        classes: list[str] | None = None,
    ) -> None:
        self.config, self.store = config, store
        self.classes = store.classes if classes is None else classes
        self.mean, self.std, self.train, self.seed = tuple(mean), tuple(std), train, seed
        self.bad_samples, self.index_file = bad_samples, index_file
        self.where = f"data source {config.name!r}"
        if not len(store):
            raise DataError(f"{self.where}: no samples found under {config.images}")
        values = value_classes or []
        # -1 (None entries) is also IGNORE_INDEX: unused label values are ignored
        self.value_lut = wnid_positions(self.classes, values) if values else np.zeros(1, np.int64)
        self.ignore_255 = len(values) <= IGNORE_ON_DISK

    def __len__(self) -> int:
        return len(self.store)

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

    def _sizes_differ(self, index: int, size: tuple[int, int], label: Path, shape: tuple) -> str:
        return (
            f"{self.where}: image {self.store.path(index)} is {size[0]}x{size[1]} but its label "
            f"map {label} is {shape[1]}x{shape[0]}"
        )

    def _check(self, index: int) -> np.ndarray | None:
        """Read and map sample `index`'s label map; its size must match the image header.

        Returns the map's pixel count per class `(K,)`, None for a sample without one.
        """
        label_map = self.store.label_map(index)
        if label_map is None:
            try:
                self.store.check(index)
            except DataError as err:
                raise DataError(f"{self.where}: {err}") from err
            return None
        labels = self.map_labels(read_label_map(label_map, self.config.label_decoder), label_map)
        try:
            with Image.open(self.store.path(index)) as image:
                size = image.size
        except OSError as err:
            path = self.store.path(index)
            raise DataError(f"{self.where}: cannot read image {path}: {err}") from err
        if size != (labels.shape[1], labels.shape[0]):
            raise DataError(self._sizes_differ(index, size, label_map, labels.shape))
        return np.bincount(labels[labels != IGNORE_INDEX], minlength=len(self.classes))

    def validate(self) -> None:
        """Check every sample now (label maps decoded and matched to their image's size,
        images present); DataError on the first problem. Skipped when this listing
        already passed (the `.checked` mark beside its index file).

        A segmentation source whose label maps never hold one of its listed classes gets
        a `ClassListWarning` naming them (evaluation would count them as base classes).
        """
        mark = None if self.index_file is None else self.index_file.with_suffix(".checked")
        if mark is not None and mark.is_file():
            log.info("%s: already checked (%s)", self.where, mark)
            return
        with (
            ThreadPoolExecutor(SCAN_THREADS) as pool,
            tqdm(total=len(self), desc=f"checking {self.config.name}", disable=None) as bar,
        ):
            pixels = np.zeros(len(self.classes), dtype=np.int64)
            for start in range(0, len(self), SCAN_CHUNK):
                chunk = range(start, min(start + SCAN_CHUNK, len(self)))
                for counts in pool.map(self._check, chunk):
                    if counts is not None:
                        pixels += counts
                    bar.update()
        if self.config.kind == "segmentation":
            warn_unused_classes(self.where, self.classes, pixels.tolist())
        if mark is not None and self.index_file is not None and self.index_file.is_file():
            mark.touch()

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Sample `index` as stored: `(H, W, 3)` uint8 RGB pixels and its label map as
        source class indices `(H, W)` int64 (`IGNORE_INDEX` = ignore; None for a sample
        without one).

        A bad sample (unreadable image or label map, values outside the class list, a
        label map of another size than its image) is logged with its source and path and
        gives None, or raises DataError when `bad_samples` is "fail".
        """
        try:
            image = self.store.image(index)
            label_map = self.store.label_map(index)
            if label_map is None:
                return image, None
            raw = read_label_map(label_map, self.config.label_decoder)
            label = self.map_labels(raw, label_map)
            if label.shape != image.shape[:2]:
                size = (image.shape[1], image.shape[0])
                raise DataError(self._sizes_differ(index, size, label_map, label.shape))
            return image, label
        except (ImageError, DataError) as err:
            message = str(err) if str(err).startswith(self.where) else f"{self.where}: {err}"
            if self.bad_samples == "fail":
                raise DataError(f"{message} (data.bad_samples: fail)") from err
            log.warning("skipping a bad sample: %s", message)
            return None

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any] | None:
        """Sample `index`, augmented with the draw-th random stream (train) or as is.

        Returns `{"image": (3, S, S) float32, "target": (S, S) int64 (segmentation;
        `IGNORE_INDEX` = -1 = ignore, any number of classes) or "labels": (L,) int64
        (image-level), "source", "path"}`, or None for a bad sample (see `read`).
        """
        index, draw = (key, 0) if isinstance(key, int) else key
        item = self.read(index)
        if item is None:
            return None
        pixels, label = item
        if self.train:
            rng = np.random.default_rng(seed_sequence(self.seed, self.config.name, index, draw))
            pixels, label = augment(pixels, label, rng, self.config.crop_size, self.ratio)
        labels = self.store.labels(index)
        out: dict[str, Any] = {
            "image": normalize(pixels, self.mean, self.std),
            "source": self.config.name,
            "path": self.store.path(index),
        }
        if labels is not None:
            out["labels"] = torch.tensor(labels, dtype=torch.int64)
        elif label is None:
            raise DataError(f"{self.where}: sample {out['path']} has neither labels nor a map")
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
    *,
    index_dir: str | Path | None = None,
    bad_samples: Literal["skip", "fail"] = "skip",
) -> SourceDataset:
    """List the samples of `config` (cheap; call `validate()` for the full check).

    `train=False` gives the whole image `(3, H, W)` and full-resolution target/labels.
    With `index_dir`, the listing is cached there and reused while the folders and files
    it was read from are unchanged (see `larvseg.train.data.index`). `bad_samples`: what
    reading a bad sample does (see `SourceDataset.read`).

    Raises DataError for a missing folder or file, an empty source, unpaired files,
    or classes unknown to the class list. Segmentation sources may have any number of
    classes: targets mark ignored pixels with `IGNORE_INDEX` (-1).
    """
    where = f"data source {config.name!r}"
    maps = config.format == "files" and config.kind != "singlelabel" and not config.labels_file
    value_classes = read_class_list(config.classes, where) if maps else None
    if config.format == "hf":
        store: SampleStore = HFSamples(config, where, bad_samples)
        return SourceDataset(config, store, None, mean, std, train, seed, bad_samples)
    index_file = None if index_dir is None else index_path(config, index_dir)
    if index_file is not None:
        try:  # before listing, which may take hours
            check_output_folder(index_file.parent, "data.index_dir")
        except OutputError as err:
            raise DataError(f"{err}; set data.index_dir to a writable folder, or null") from err
    index = None if index_file is None else load_index(index_file, where)
    if index is None:
        started = time.time_ns()
        if config.format == "webdataset":
            index = list_shards(config, where, bad_samples)
        else:
            index = list_files(config, where)
        if isinstance(config.classes, str) and not config.classes.startswith(BENCHMARK_PREFIX):
            index.stamps[os.path.abspath(config.classes)] = stamp(config.classes, started)
        if index_file is not None and not index.damaged:
            index.save(index_file)
            log.info("%s: %d samples listed, index written to %s", where, len(index), index_file)
    else:
        log.info("%s: %d samples from the index %s", where, len(index), index_file)
    store = ShardSamples(index) if config.format == "webdataset" else FileSamples(config, index)
    classes = class_wnids(config.classes or value_classes, where) if value_classes else None
    return SourceDataset(
        config, store, value_classes, mean, std, train, seed, bad_samples, index_file, classes
    )


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
