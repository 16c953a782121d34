"""On-disk layouts of the training sources: list samples, read label maps and class lists.

Segmentation and map-derived multilabel sources pair `images/<rel><image_suffix>`
with `annotations/<rel><label_suffix>`; multilabel sources may instead give a
JSON-lines labels file; single-label sources are ImageNet trees `<root>/<wnid>/*`.
Formats: docs/training-data.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..errors import DataError

if TYPE_CHECKING:
    from ..config import DataSourceConfig

IGNORE_INDEX = -1
"""Target value of ignored pixels once label maps are read (losses and metrics skip it)."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
LABEL_MODES = ("L", "P", "I", "I;16", "I;16L", "I;16B")


@dataclass(frozen=True)
class Sample:
    """One sample: its image, label map (if any) and image-level labels (if given)."""

    image: Path
    label_map: Path | None = None
    labels: tuple[int, ...] | None = None


def read_label_map(path: Path, decoder: str | None = None) -> np.ndarray:
    """Raw label values `(H, W)` int64 of a label-map file, read as stored (never via RGB).

    Single-channel maps (PIL modes L, P, I;16, I) give their values; decoder
    "ade20k_full" reads the full ADE20K `_seg.png` as class = R // 10 * 256 + G.
    """
    try:
        with Image.open(path) as image:
            if decoder == "ade20k_full":
                rgb = np.asarray(image.convert("RGB")).astype(np.int64)
                return rgb[..., 0] // 10 * 256 + rgb[..., 1]
            if image.mode not in LABEL_MODES:
                raise DataError(
                    f"label map {path} has PIL mode {image.mode}; expected a single-channel "
                    "map of class values (mode L, P or I;16), or set label_decoder"
                )
            return np.asarray(image).astype(np.int64)
    except OSError as err:
        raise DataError(f"cannot read label map {path}: {err}") from err


def read_class_list(
    classes: Sequence[str | None] | str | None, where: str
) -> list[str | None] | None:
    """The class list (label value -> wnid; None for an unused value) from YAML or a file.

    A file has one wnid per line, line i for label value i; an empty line or "-" marks
    an unused value.
    """
    if classes is None or not isinstance(classes, str):
        return None if classes is None else list(classes)
    path = Path(classes)
    if not path.is_file():
        raise DataError(f"{where}: classes file {path} not found")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [None if line in ("", "-") else line for line in lines]


def _files(folder: Path, suffix: str, where: str, what: str) -> dict[str, Path]:
    """`{relative path without suffix: file}` for files under `folder` ending in `suffix`."""
    if not folder.is_dir():
        raise DataError(f"{where}: {what} folder {folder} does not exist")
    return {
        str(p.relative_to(folder))[: -len(suffix)]: p
        for p in sorted(folder.rglob(f"*{suffix}"))
        if p.is_file()
    }


def pair_label_maps(config: DataSourceConfig, where: str) -> list[Sample]:
    """Image <-> label-map pairs matched by relative path (ADE20K, COCO-Stuff layouts)."""
    if config.annotations is None:
        raise DataError(f"{where}: label maps need `annotations` (their folder)")
    images = _files(Path(config.images), config.image_suffix, where, "image")
    maps = _files(Path(config.annotations), config.label_suffix, where, "annotation")
    for have, other, what, suffix in (
        (images, maps, "label map", config.label_suffix),
        (maps, images, "image", config.image_suffix),
    ):
        lacking = sorted(set(have) - set(other))
        if lacking:
            raise DataError(
                f"{where}: {len(lacking)} files have no matching {what}, e.g. {have[lacking[0]]} "
                f"(expected the same relative path ending in {suffix!r})"
            )
    return [Sample(images[key], maps[key]) for key in images]


def from_labels_file(config: DataSourceConfig, where: str) -> tuple[list[Sample], list[str]]:
    """Samples of a JSON-lines labels file `{"image": "rel/path.jpg", "labels": [wnid, ...]}`."""
    if config.labels_file is None:
        raise DataError(f"{where}: no `labels_file` given")
    path, root = Path(config.labels_file), Path(config.images)
    if not path.is_file():
        raise DataError(f"{where}: labels_file {path} does not exist")
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            entries.append((root / entry["image"], [str(w) for w in entry["labels"]]))
        except (ValueError, KeyError, TypeError) as err:
            raise DataError(
                f'{where}: {path} line {number} is not {{"image": ..., "labels": [...]}}: {err}'
            ) from err
    raw = read_class_list(config.classes, where)
    classes = [w for w in raw if w] if raw else sorted({w for _, ws in entries for w in ws})
    index = {w: i for i, w in enumerate(dict.fromkeys(classes))}
    samples = []
    for image, wnids in entries:
        unknown = [w for w in wnids if w not in index]
        if unknown:
            raise DataError(f"{where}: {path} labels {unknown} of {image} are not in `classes`")
        samples.append(Sample(image, labels=tuple(sorted({index[w] for w in wnids}))))
    return samples, classes


def from_folders(config: DataSourceConfig, where: str) -> tuple[list[Sample], list[str]]:
    """Samples of an ImageNet tree `root/<wnid>/*.JPEG`; classes default to the folders."""
    root = Path(config.images)
    if not root.is_dir():
        raise DataError(f"{where}: image folder {root} does not exist")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    raw = read_class_list(config.classes, where)
    classes = [w for w in raw if w] if raw else [p.name for p in folders]
    index = {w: i for i, w in enumerate(dict.fromkeys(classes))}
    unknown = [p.name for p in folders if p.name not in index]
    if unknown:
        raise DataError(f"{where}: class folders {unknown[:5]} in {root} are not in `classes`")
    samples = [
        Sample(path, labels=(index[folder.name],))
        for folder in folders
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]
    return samples, classes
