"""The three benchmarks' validation data, as downloaded, read as `EvalDataset`s.

- ade-150: `ADEChallengeData2016/images/validation/*.jpg` and
  `annotations/validation/*.png` (value = class + 1, 0 = "other": ignored);
- ade-847: `ADE20K_2021_17_01/images/ADE/validation/**/*.jpg` and the `*_seg.png`
  beside each, decoded as `R // 10 * 256 + G` (the full-ADE20K class index); the
  classes outside the 847, and 0 (unlabeled), are ignored;
- coco-stuff-171: `images/val2017/*.jpg` and `stuffthingmaps_trainval2017/val2017/*.png`
  (value = COCO-Stuff id - 1; 255 and the 11 unused thing ids are ignored).

Each stored value becomes a class through `larvseg.vocab.benchmarks.label_map_wnids`;
classes are in the benchmark's label order, and classes of one benchmark sharing a
synset are one evaluated class (as in training).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, ImageError
from ..pipeline.image import load_image
from ..vocab.benchmarks import BENCHMARK_PREFIX, BENCHMARKS, label_map_wnids
from ..vocab.table import wnid_positions
from .labelmaps import class_wnids, map_values, read_label_map
from .runner import Skipped

IGNORE_ON_DISK = 255
"""The stored value of ignored pixels in 8-bit label maps (COCO-Stuff)."""


@dataclass(frozen=True)
class Layout:
    """Where a benchmark keeps its images and label maps, under its downloaded folder.

    `images` and each of `annotations` (tried in order) hold `{split}`, replaced by the
    split's folder name (`splits`); label maps are the image's relative path with its
    suffix replaced by `label_suffix`.
    """

    folder: str
    images: str
    annotations: tuple[str, ...]
    splits: dict[str, str]
    label_suffix: str = ".png"
    decoder: str | None = None


ADE_SPLITS = {"val": "validation", "train": "training"}
LAYOUTS = {
    "ade-150": Layout(
        "ADEChallengeData2016", "images/{split}", ("annotations/{split}",), ADE_SPLITS
    ),
    "ade-847": Layout(
        "ADE20K_2021_17_01",
        "images/ADE/{split}",
        ("images/ADE/{split}",),
        ADE_SPLITS,
        label_suffix="_seg.png",
        decoder="ade20k_full",
    ),
    "coco-stuff-171": Layout(
        "coco_stuff164k",
        "images/{split}",
        ("stuffthingmaps_trainval2017/{split}", "stuffthingmaps/{split}", "annotations/{split}"),
        {"val": "val2017", "train": "train2017"},
    ),
}
"""The layout of each benchmark's download (the folder name is what `--root` may omit)."""


@dataclass
class LabelMapDataset:
    """Images and their label maps, each stored value mapped to a class (an `EvalDataset`).

    Args:
        pairs: `(image, label map)` files.
        classes: the classes (distinct wnids); targets index into them.
        value_classes: the wnid of each stored value, None where the value is no class
            (ignored, as are values beyond the list and wnids not in `classes`).
        decoder: `read_label_map`'s decoder ("ade20k_full" or None).
        name: for messages.
    """

    pairs: list[tuple[Path, Path]]
    classes: list[str]
    value_classes: list[str | None]
    decoder: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        self._lookup = wnid_positions(self.classes, self.value_classes)
        listed = [i for i, wnid in enumerate(self.value_classes) if wnid]
        self._limit = listed[-1] + 1 if listed else 0  # values from here on are no class
        # 255 marks ignored pixels in 8-bit maps (COCO-Stuff); above 255 it may be a class
        self._ignore = IGNORE_ON_DISK if self._limit <= IGNORE_ON_DISK else None

    def __len__(self) -> int:
        return len(self.pairs)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray] | Skipped:
        """Image `index` `(H, W, 3)` uint8 and its target `(H, W)` int64 (-1 = ignore), or
        `Skipped` naming the file and why: an unreadable image or label map, a map of
        another size than its image, or one holding values outside the class list (a
        map of another dataset, or saved as RGB)."""
        image_path, label_path = self.pairs[index]
        try:
            image = load_image(image_path)
        except ImageError as err:
            return Skipped(str(image_path), str(err).removeprefix(f"{image_path}: "))
        try:
            values = read_label_map(label_path, self.decoder)
        except DataError as err:
            return Skipped(str(label_path), str(err))
        if values.shape != image.shape[:2]:
            return Skipped(
                str(label_path),
                f"the label map is {values.shape[1]}x{values.shape[0]} but its image "
                f"{image_path.name} is {image.shape[1]}x{image.shape[0]}",
            )
        outside = (values < 0) | (values >= self._limit)
        if self._ignore is not None:
            outside &= values != self._ignore
        if outside.any():
            bad = np.unique(values[outside])
            return Skipped(
                str(label_path),
                f"{int(outside.sum()):,} pixels hold values outside the class list "
                f"(0..{self._limit - 1}): {', '.join(map(str, bad[:5].tolist()))}"
                + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
                + f"; is it a label map of {self.name or 'this dataset'}?",
            )
        return image, map_values(values, self._lookup)


def benchmark_dataset(
    name: str, root: str | Path, split: str = "val", limit: int | None = None
) -> LabelMapDataset:
    """Benchmark `name`'s `split` ("val" or "train") from its download under `root`.

    `root` is the downloaded folder (e.g. `.../ADEChallengeData2016`) or its parent.
    `limit` keeps the first images (sorted by path). Raises `DataError` naming the
    folder expected when the layout is not found, or an image without its label map.
    """
    if name not in LAYOUTS:
        raise DataError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    layout = LAYOUTS[name]
    folder = layout.splits.get(split, split)
    if folder not in layout.splits.values():
        raise DataError(f"{name}: unknown split {split!r}; known: {', '.join(layout.splits)}")
    root = Path(root)
    if not (root / layout.images.format(split=folder)).is_dir() and (root / layout.folder).is_dir():
        root = root / layout.folder
    images = root / layout.images.format(split=folder)
    if not images.is_dir():
        raise DataError(
            f"{name}: image folder {images} not found; --root must be the {layout.folder} "
            f"folder as downloaded (holding {layout.images.format(split=folder)}) or its parent"
        )
    candidates = [root / a.format(split=folder) for a in layout.annotations]
    annotations = next((c for c in candidates if c.is_dir()), None)
    if annotations is None:
        raise DataError(f"{name}: no label-map folder: tried {', '.join(map(str, candidates))}")
    paths = sorted(images.rglob("*.jpg"))[:limit]
    if not paths:
        raise DataError(f"{name}: no .jpg image under {images}")
    pairs = [
        (p, annotations / p.relative_to(images).with_name(p.stem + layout.label_suffix))
        for p in paths
    ]
    unpaired = [label for _, label in pairs if not label.is_file()]
    if unpaired:
        raise DataError(
            f"{name}: {len(unpaired)} images have no label map, e.g. {unpaired[0]} is missing"
        )
    spec = BENCHMARK_PREFIX + name
    return LabelMapDataset(
        pairs, class_wnids(spec, name), label_map_wnids(name), layout.decoder, name
    )
