"""On-disk layouts of the training sources: list their samples.

Segmentation and map-derived multilabel sources pair `images/<rel><image_suffix>`
with `annotations/<rel><label_suffix>`; multilabel sources may instead give a
JSON-lines labels file; single-label sources are ImageNet trees `<root>/<wnid>/*`.
Label maps and class lists are read by `larvseg.evaluation.labelmaps` (shared with
evaluation). Formats: docs/training-data.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import DataError
from ...evaluation.labelmaps import read_class_list

if TYPE_CHECKING:
    from ..config import DataSourceConfig

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class Sample:
    """One sample: its image, label map (if any) and image-level labels (if given)."""

    image: Path
    label_map: Path | None = None
    labels: tuple[int, ...] | None = None


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
