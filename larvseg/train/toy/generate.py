"""A procedural benchmark with LarvSeg's structure: base masks, novel image-level labels.

`generate(out, ToySpec(...))` writes, deterministically from `spec.seed`, real files
in the formats `larvseg-train` reads (docs/training-data.md), so the whole data path
is exercised:

    out/classes.txt            all classes (base first), one wnid per line = label value
    out/base_classes.txt       base classes only (the segmentation source's class list)
    out/base/images/*.png      scenes of base classes only ...
    out/base/annotations/*.png ... with their masks (values index base_classes.txt)
    out/scenes/images/*.png    multi-label scenes mixing base and novel classes (like WA150)
    out/scenes/labels.jsonl    their image-level labels: every class present
    out/scenes/annotations/    their true masks: for the supervised upper bound and the
                               attention diagnostic only, never for the weak runs
    out/objects/images/<wnid>/*.png       one large central novel object on a base
    out/objects/annotations/<wnid>/*.png  background (like ImageNet), and its masks
    out/val/images, out/val/annotations   validation scenes, full masks of all classes
    out/manifest.json          the spec, the classes (wnid, name, role, pattern), counts

Classes are real WordNet 3.0 synsets (their wnids), each drawn as its own texture
pattern (`larvseg.train.toy.textures`). Every image is drawn from its own generator
seeded by `(seed, split, index)`, so changing one count leaves the other images as
they were.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from ...dataclass_io import read_dataclass
from ...errors import LarvSegError
from ...vocab.table import WordNetTable
from ..seeding import seed_sequence
from .textures import Pattern, central_blob, paint, pattern_catalogue, voronoi_layout

SYNSETS = (
    "grass.n.01", "sand.n.01", "water.n.06", "brick.n.01", "gravel.n.01", "rug.n.01",
    "tile.n.01", "sky.n.01", "zebra.n.01", "leopard.n.02", "tiger.n.02", "giraffe.n.01",
    "cheetah.n.01", "honeycomb.n.01", "wicker.n.02", "herringbone.n.01",
)  # fmt: skip
"""Class pool: the first `num_base` are base classes, the next `num_novel` novel."""

SPLITS = {"base": 1, "scenes": 2, "objects": 3, "val": 4}
LAYOUT_TRIES = 30


class ToySpecError(LarvSegError, ValueError):
    """A toy dataset specification that cannot be generated; names the parameter."""


@dataclass(frozen=True)
class ToySpec:
    """What to generate.

    Attributes:
        seed: all randomness derives from it.
        num_base: classes with masks (base).
        num_novel: classes with image-level labels only (novel).
        image_size: side of every (square) image, pixels.
        base_images: segmentation scenes of 2-4 base classes.
        scene_images: multi-label scenes of 1-2 novel and 1-2 base classes.
        object_images: object-centric images per novel class (single-label).
        val_images: validation scenes, drawn like `scene_images`.
        min_region: smallest share of the image a region of a scene may have.
    """

    seed: int = 0
    num_base: int = 8
    num_novel: int = 6
    image_size: int = 96
    base_images: int = 400
    scene_images: int = 400
    object_images: int = 40
    val_images: int = 120
    min_region: float = 0.04

    def __post_init__(self) -> None:
        if self.num_base < 2 or self.num_novel < 1:
            raise ToySpecError(
                f"need num_base >= 2 and num_novel >= 1, got {self.num_base} and {self.num_novel}"
            )
        if self.num_base + self.num_novel > len(SYNSETS):
            raise ToySpecError(
                f"num_base + num_novel = {self.num_base + self.num_novel} exceeds the "
                f"{len(SYNSETS)} classes the toy benchmark has patterns for"
            )
        if self.image_size < 16:
            raise ToySpecError(f"image_size must be at least 16, got {self.image_size}")
        for name in ("base_images", "scene_images", "object_images", "val_images"):
            if getattr(self, name) < 1:
                raise ToySpecError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.min_region < 0.25:
            raise ToySpecError(f"min_region must be in [0, 0.25), got {self.min_region}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToySpec:
        """Read back `asdict(spec)` (e.g. from manifest.json)."""
        return read_dataclass(cls, data, error=ToySpecError)


@dataclass(frozen=True)
class ToyClass:
    """One class: its wnid, synset name, role ("base" or "novel") and texture pattern."""

    wnid: str
    name: str
    role: str
    pattern: Pattern


def toy_classes(spec: ToySpec) -> list[ToyClass]:
    """The spec's classes, base first, with wnids from the packaged WordNet table."""
    table = WordNetTable.packaged()
    patterns = pattern_catalogue()
    out = []
    for i, name in enumerate(SYNSETS[: spec.num_base + spec.num_novel]):
        row = table.row_of_name(name)
        if row is None:
            raise ToySpecError(f"{name} is missing from the packaged WordNet table")
        role = "base" if i < spec.num_base else "novel"
        out.append(ToyClass(table.records[row].wnid, name, role, patterns[i]))
    return out


def _rng(spec: ToySpec, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(seed_sequence(spec.seed, SPLITS[split], index))


def _scene(
    spec: ToySpec, classes: list[int], patterns: list[Pattern], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(RGB `(S, S, 3)` uint8, class map `(S, S)` uint8) of a scene of `classes`.

    Layouts are redrawn (up to LAYOUT_TRIES times) until every region covers at least
    `min_region` of the image; the last draw is kept regardless.
    """
    size, area = spec.image_size, spec.image_size**2
    for _ in range(LAYOUT_TRIES):
        regions = voronoi_layout(len(classes), size, rng)
        shares = np.bincount(regions.ravel(), minlength=len(classes)) / area
        if shares.min() >= spec.min_region:
            break
    image = paint(regions, [patterns[c] for c in classes], rng)
    return image, np.asarray(classes, dtype=np.uint8)[regions]


def _mixed_classes(rng: np.random.Generator, base: list[int], novel: list[int]) -> list[int]:
    """1-2 novel and 1-2 base classes, distinct, in random order."""
    picked = list(rng.choice(novel, min(len(novel), int(rng.integers(1, 3))), replace=False))
    picked += list(rng.choice(base, min(len(base), int(rng.integers(1, 3))), replace=False))
    return [int(c) for c in rng.permutation(picked)]


def _object(
    spec: ToySpec, target: int, base: list[int], patterns: list[Pattern], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """An object-centric image: a central blob of class `target` on 1-2 base classes."""
    background = [int(c) for c in rng.choice(base, int(rng.integers(1, 3)), replace=False)]
    regions = voronoi_layout(len(background), spec.image_size, rng)
    regions[central_blob(spec.image_size, rng)] = len(background)
    image = paint(regions, [patterns[c] for c in [*background, target]], rng)
    return image, np.asarray([*background, target], dtype=np.uint8)[regions]


def _save(image: np.ndarray, label: np.ndarray, out: Path, folder: str, stem: str) -> None:
    for kind, array in (("images", image), ("annotations", label)):
        path = out / folder / kind / f"{stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)


def generate(out: str | Path, spec: ToySpec | None = None, *, progress: bool = True) -> Path:
    """Write the toy dataset of `spec` (default `ToySpec()`) under `out`; returns `out`.

    The same spec always gives byte-identical files. The manifest is written last, so
    a folder holding this spec's manifest is complete and is returned as it is; a
    folder holding a manifest of a different spec is refused (nothing is overwritten).
    """
    spec = spec or ToySpec()
    root = Path(out)
    manifest_path = root / "manifest.json"
    if manifest_path.is_file():
        old = json.loads(manifest_path.read_text(encoding="utf-8")).get("spec")
        if old == asdict(spec):
            return root
        raise ToySpecError(
            f"{root} already holds a toy dataset of another spec ({old}); choose an empty folder"
        )
    classes = toy_classes(spec)
    patterns = [c.pattern for c in classes]
    base = [i for i, c in enumerate(classes) if c.role == "base"]
    novel = [i for i, c in enumerate(classes) if c.role == "novel"]
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("".join(f"{c.wnid}\n" for c in classes), encoding="utf-8")
    (root / "base_classes.txt").write_text(
        "".join(f"{classes[i].wnid}\n" for i in base), encoding="utf-8"
    )
    total = spec.base_images + spec.scene_images + spec.val_images
    bar = tqdm(
        total=total + spec.object_images * len(novel), desc="toy dataset", disable=not progress
    )
    for i in range(spec.base_images):
        rng = _rng(spec, "base", i)
        picked = [
            int(c)
            for c in rng.choice(base, int(rng.integers(2, min(4, len(base)) + 1)), replace=False)
        ]
        _save(*_scene(spec, picked, patterns, rng), root, "base", f"{i:05d}")
        bar.update()
    labels = []
    for split, count in (("scenes", spec.scene_images), ("val", spec.val_images)):
        for i in range(count):
            rng = _rng(spec, split, i)
            image, label = _scene(spec, _mixed_classes(rng, base, novel), patterns, rng)
            _save(image, label, root, split, f"{i:05d}")
            if split == "scenes":
                present = [classes[int(c)].wnid for c in np.unique(label)]
                labels.append(json.dumps({"image": f"{i:05d}.png", "labels": present}))
            bar.update()
    (root / "scenes" / "labels.jsonl").write_text("\n".join(labels) + "\n", encoding="utf-8")
    for c in novel:
        for i in range(spec.object_images):
            rng = _rng(spec, "objects", c * 1_000_000 + i)
            image, label = _object(spec, c, base, patterns, rng)
            _save(image, label, root, "objects", f"{classes[c].wnid}/{i:05d}")
            bar.update()
    bar.close()
    manifest = {
        "spec": asdict(spec),
        "classes": [{**asdict(c), "pattern": asdict(c.pattern)} for c in classes],
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return root


def read_manifest(root: str | Path) -> tuple[ToySpec, list[ToyClass]]:
    """The spec and classes of the toy dataset under `root`."""
    path = Path(root) / "manifest.json"
    if not path.is_file():
        raise ToySpecError(f"{root} holds no toy dataset (no manifest.json); run larvseg-toy")
    data = json.loads(path.read_text(encoding="utf-8"))
    classes = [read_dataclass(ToyClass, c, error=ToySpecError) for c in data["classes"]]
    return ToySpec.from_dict(data["spec"]), classes
