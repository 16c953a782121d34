"""On-disk layouts of the training sources: list samples, read label maps and class lists.

Segmentation and map-derived multilabel sources pair `images/<rel><image_suffix>`
with `annotations/<rel><label_suffix>`; multilabel sources may instead give a
JSON-lines labels file; single-label sources are ImageNet trees `<root>/<wnid>/*`.
Listings are `SourceIndex`es (`larvseg.train.data.index`); `FileSamples` reads their
samples. Label maps and class lists are read by `larvseg.evaluation.labelmaps` (shared
with evaluation). Formats: docs/training-data.md.
"""

from __future__ import annotations

import importlib
import io
import json
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from tqdm import tqdm

from ...errors import DataError, ImageError
from ...evaluation.labelmaps import read_class_list
from ...pipeline.image import load_image
from .index import IndexBuilder, SourceIndex

if TYPE_CHECKING:
    from ..config import DataSourceConfig

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _tree(root: Path, suffix: str, builder: IndexBuilder, where: str, what: str) -> dict[str, str]:
    """`{relative path without suffix: relative path}` of the files under `root` ending in
    `suffix` (symlinked folders not followed); every folder walked is stamped."""
    if not root.is_dir():
        raise DataError(f"{where}: {what} folder {root} does not exist")
    found: dict[str, str] = {}
    pending = [""]
    while pending:
        relative = pending.pop()
        folder = os.path.join(root, relative) if relative else str(root)
        builder.stamp(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                path = os.path.join(relative, entry.name)
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                elif entry.name.endswith(suffix) and entry.is_file():
                    found[path[: -len(suffix)]] = path
    return found


def pair_label_maps(config: DataSourceConfig, where: str) -> SourceIndex:
    """Image <-> label-map pairs matched by relative path (ADE20K, COCO-Stuff layouts),
    in sorted path order; sample names are the images' (`FileSamples.label_map` finds the map)."""
    if config.annotations is None:
        raise DataError(f"{where}: label maps need `annotations` (their folder)")
    builder = IndexBuilder()
    roots = {"image": Path(config.images), "annotation": Path(config.annotations)}
    images = _tree(roots["image"], config.image_suffix, builder, where, "image")
    maps = _tree(roots["annotation"], config.label_suffix, builder, where, "annotation")
    for have, other, root, what, suffix in (
        (images, maps, roots["image"], "label map", config.label_suffix),
        (maps, images, roots["annotation"], "image", config.image_suffix),
    ):
        lacking = sorted(set(have) - set(other))
        if lacking:
            raise DataError(
                f"{where}: {len(lacking)} files have no matching {what}, e.g. "
                f"{root / have[lacking[0]]} (expected the same relative path ending in {suffix!r})"
            )
    for key in sorted(images, key=lambda key: tuple(images[key].split(os.sep))):
        folder, name = os.path.split(images[key])
        builder.add(builder.folder(folder), name)
    return builder.build(read_class_list(config.classes, where), where)


def from_labels_file(config: DataSourceConfig, where: str) -> SourceIndex:
    """Samples of a JSON-lines labels file `{"image": "rel/path.jpg", "labels": [wnid, ...]}`;
    labels may also be integers (lines of `classes`)."""
    if config.labels_file is None:
        raise DataError(f"{where}: no `labels_file` given")
    path = Path(config.labels_file)
    if not path.is_file():
        raise DataError(f"{where}: labels_file {path} does not exist")
    builder = IndexBuilder()
    builder.stamp(path)
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                folder, name = os.path.split(entry["image"])
                tokens = [str(w) for w in entry["labels"]]
            except (ValueError, KeyError, TypeError) as err:
                raise DataError(
                    f'{where}: {path} line {number} is not {{"image": ..., "labels": [...]}}: {err}'
                ) from err
            builder.add(builder.folder(folder), name, tokens)
    return builder.build(read_class_list(config.classes, where), where)


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def from_folders(config: DataSourceConfig, where: str) -> SourceIndex:
    """Samples of an ImageNet tree `root/<wnid>/*.JPEG`; classes default to the folders."""
    root = Path(config.images)
    if not root.is_dir():
        raise DataError(f"{where}: image folder {root} does not exist")
    builder = IndexBuilder()
    builder.stamp(root)
    with os.scandir(root) as entries:
        folders = sorted(entry.name for entry in entries if entry.is_dir())
    raw = read_class_list(config.classes, where) or list(folders)
    known = set(raw)
    unknown = [name for name in folders if name not in known]
    if unknown:
        raise DataError(f"{where}: class folders {unknown[:5]} in {root} are not in `classes`")
    listing = tqdm(folders, desc=f"listing {config.name}", unit="folder", leave=False, disable=None)
    for name in listing:
        folder = root / name
        builder.stamp(folder)
        with os.scandir(folder) as entries:
            files = sorted(e.name for e in entries if _is_image(e.name))
        folder_id = builder.folder(name)
        for file in files:
            builder.add(folder_id, file, (name,))
    return builder.build(raw, where, numbered=False)


def list_files(config: DataSourceConfig, where: str) -> SourceIndex:
    """The samples of a `format: files` source, by its layout (see the module docstring)."""
    if config.kind == "singlelabel":
        return from_folders(config, where)
    if config.labels_file:
        return from_labels_file(config, where)
    if not read_class_list(config.classes, where):
        raise DataError(f"{where}: `classes` (label value -> wnid) is required with maps")
    return pair_label_maps(config, where)


def extra_module(name: str, where: str) -> ModuleType:
    """The package `name` of the `datasets` extra (webdataset, braceexpand, datasets), or
    DataError saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise DataError(
            f"{where}: reading this format needs the datasets extra ({name} is missing): "
            'pip install "larvseg[datasets]"'
        ) from err


def decode_image(data: bytes, label: str) -> np.ndarray:
    """An encoded image (JPEG, PNG, ... bytes) as `(H, W, 3)` uint8 RGB; ImageError naming
    `label` when it cannot be decoded."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return load_image(image, name=label)
    except (OSError, Image.DecompressionBombError) as err:
        message = f"{label}: cannot decode ({err}); the data is truncated or corrupt"
        raise ImageError(message) from err


class FileSamples:
    """The samples of a `format: files` source: image files, label maps, stored labels.

    Args:
        config: the source; `images` (and `annotations`) are the roots of the index's
            relative folders.
        index: its listing.
    """

    def __init__(self, config: DataSourceConfig, index: SourceIndex) -> None:
        self.index, self.classes = index, index.classes
        self.root = Path(config.images)
        self.annotations = None if config.labels_file else config.annotations
        self.suffixes = (config.image_suffix, config.label_suffix)

    def __len__(self) -> int:
        return len(self.index)

    def path(self, index: int) -> str:
        """The image file of sample `index`."""
        return os.path.join(self.root, self.index.folder(index), self.index.name(index))

    def labels(self, index: int) -> tuple[int, ...] | None:
        return self.index.labels_of(index)

    def label_map(self, index: int) -> Path | None:
        """The label map of sample `index` (same relative path as the image), or None."""
        if self.annotations is None or self.index.labels is not None:
            return None
        stem = self.index.name(index)[: -len(self.suffixes[0])]
        return Path(self.annotations, self.index.folder(index), stem + self.suffixes[1])

    def image(self, index: int) -> np.ndarray:
        """`(H, W, 3)` uint8 RGB pixels of sample `index`; ImageError when unreadable."""
        return load_image(self.path(index))

    def check(self, index: int) -> None:
        """DataError when the image of sample `index` is missing (the eager check)."""
        if not os.path.isfile(self.path(index)):
            raise DataError(f"image {self.path(index)} does not exist")
