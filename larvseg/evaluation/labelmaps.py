"""Label maps and class lists as stored on disk (shared by evaluation and training).

A label map is read as stored, one value per pixel; a class list gives the wnid of each
stored value (None: not a class, the pixel is ignored). Once mapped to class indices,
ignored pixels hold `IGNORE_INDEX`. Formats: docs/training-data.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..vocab.benchmarks import BENCHMARK_PREFIX, BENCHMARKS, label_map_wnids, wnids
from ..vocab.vocabulary import listing

IGNORE_INDEX = -1
"""Target value of ignored pixels once label maps are read (losses and metrics skip it)."""
LABEL_MODES = ("L", "P", "I", "I;16", "I;16L", "I;16B")


class ClassListWarning(UserWarning):
    """A segmentation source lists classes that never occur in its label maps."""


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
    """The class list (stored value -> wnid; None for a value that is no class).

    `classes` is a sequence or a file (one wnid per line, line i for value i; None, an
    empty entry or "-" marks a value that is no class) or `benchmark:NAME`, the shipped map of a
    benchmark's label maps as downloaded (`larvseg.vocab.benchmarks.label_map_wnids`).
    """
    if classes is None:
        return None
    if not isinstance(classes, str):
        return [_entry(c) for c in classes]
    if classes.startswith(BENCHMARK_PREFIX):
        name = classes[len(BENCHMARK_PREFIX) :]
        if name not in BENCHMARKS:
            raise DataError(
                f"{where}: unknown benchmark map {classes!r}; shipped: "
                + ", ".join(BENCHMARK_PREFIX + b for b in BENCHMARKS)
            )
        return label_map_wnids(name)
    path = Path(classes)
    if not path.is_file():
        raise DataError(
            f"{where}: classes file {path} not found (give a file of wnids, one per line, "
            f"or a shipped map: {', '.join(BENCHMARK_PREFIX + b for b in BENCHMARKS)})"
        )
    return [_entry(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _entry(value: str | None) -> str | None:
    """A class-list entry: None, "" and "-" mark a value that is no class."""
    value = None if value is None else value.strip()
    return None if value in (None, "", "-") else value


def class_wnids(classes: Sequence[str | None] | str, where: str) -> list[str]:
    """The distinct wnids of a class list (as `read_class_list` takes it): a shipped map's
    in the benchmark's label order, others in first-seen order."""
    listed = read_class_list(classes, where) or []
    if isinstance(classes, str) and classes.startswith(BENCHMARK_PREFIX):
        listed = wnids(classes[len(BENCHMARK_PREFIX) :])
    return list(dict.fromkeys(w for w in listed if w))


def map_values(values: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    """Stored values `(H, W)` -> class indices `(H, W)` int64 through `lookup` (value ->
    class index, -1 = no class); values outside the table become `IGNORE_INDEX` too."""
    inside = (values >= 0) & (values < len(lookup))
    return np.where(inside, lookup[np.where(inside, values, 0)], IGNORE_INDEX)


def warn_unused_classes(where: str, classes: Sequence[str], pixels: Sequence[int]) -> list[str]:
    """Warn (`ClassListWarning`) about listed classes with no pixel in the source's label
    maps (`pixels[k]`: pixels of `classes[k]`); returns them.

    Such a class has masks in name only: if its pixels were removed on purpose (a novel
    class), evaluation must be told the base classes, or it counts that class as base.
    """
    unused = [wnid for wnid, count in zip(classes, pixels, strict=True) if count == 0]
    if unused:
        warnings.warn(
            f"{where}: {len(unused)} of its {len(classes)} listed classes never occur in its "
            f"label maps: {listing(unused)}; if they are novel classes whose pixels were "
            "removed, name the base classes (data.base_classes, or --base-classes) so that "
            "evaluation does not count them as base",
            ClassListWarning,
            stacklevel=2,
        )
    return unused
