"""`Segmentation`: the result of `LarvSeg.segment` for one image (masks, counts, overlay, files)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .errors import InputError
from .overlay import render_overlay

if TYPE_CHECKING:
    from .vocab.table import Category
    from .vocab.vocabulary import Vocabulary

MAX_SAVED_CATEGORIES = 65535  # label PNGs are 16-bit with 0 reserved for unlabeled


@dataclass(repr=False)
class Segmentation:
    """Result of segmenting one image.

    Attributes:
        labels: `(H, W)` int32, index into `categories`; -1 = unlabeled (open mode).
        scores: `(H, W)` float32 in [0, 1], confidence of the winning label.
        categories: the categories that label this image, in label order.
        image: `(H, W, 3)` uint8 RGB, the input at its original resolution.
        vocabulary: the model's `Vocabulary`, to resolve the items given to `mask`.
        source: a description of the input (its path), if any.
    """

    labels: np.ndarray
    scores: np.ndarray
    categories: list[Category]
    image: np.ndarray
    vocabulary: Vocabulary
    source: str | None = None

    def __post_init__(self) -> None:
        labels, scores, image = self.labels, self.scores, self.image
        if labels.ndim != 2 or labels.dtype.kind not in "iu":
            raise InputError(f"labels must be an (H, W) integer array, got {_shape(labels)}")
        if scores.shape != labels.shape or scores.dtype.kind != "f":
            raise InputError(
                f"scores must be a float array of the labels' shape {labels.shape}, "
                f"got {_shape(scores)}"
            )
        if image.shape != (*labels.shape, 3) or image.dtype != np.uint8:
            raise InputError(
                f"image must be ({labels.shape[0]}, {labels.shape[1]}, 3) uint8 RGB like the "
                f"labels, got {_shape(image)}"
            )
        if labels.size and (labels.min() < -1 or labels.max() >= len(self.categories)):
            raise InputError(
                f"label values span [{labels.min()}, {labels.max()}] but must lie in "
                f"[-1, {len(self.categories)}) for {len(self.categories)} categories"
            )
        self.labels = labels.astype(np.int32, copy=False)
        self.scores = scores.astype(np.float32, copy=False)

    def __repr__(self) -> str:
        height, width = self.labels.shape
        names = ", ".join(c.name for c in self.categories[:5])
        more = f", ... ({len(self.categories)} in all)" if len(self.categories) > 5 else ""
        return f"Segmentation({self.source!r}, {height}x{width}, categories=[{names}{more}])"

    @property
    def height(self) -> int:
        """Image height in pixels."""
        return int(self.labels.shape[0])

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return int(self.labels.shape[1])

    def mask(self, item: Any) -> np.ndarray:
        """`(H, W)` bool: pixels labelled `item` or any of its hyponyms.

        `item` is anything `Vocabulary.resolve` takes (synset name, wnid, nltk Synset,
        `Category`, plain word); an unknown one raises `VocabularyError`. An item with no
        pixels in this image gives an all-False mask.
        """
        target = self.vocabulary.resolve(item).wnid
        under = [
            i for i, c in enumerate(self.categories) if target in self.vocabulary.ancestors(c.wnid)
        ]
        return np.isin(self.labels, under)

    def pixel_counts(self) -> dict[str, int]:
        """wnid -> number of pixels labelled with that category, in label order."""
        return {c.wnid: n for c, n in zip(self.categories, self._areas(), strict=True)}

    def _areas(self) -> list[int]:
        """Pixels per label index."""
        labeled = self.labels[self.labels >= 0]
        return [int(n) for n in np.bincount(labeled, minlength=len(self.categories))]

    def overlay(self, alpha: float = 0.5) -> Image.Image:
        """RGB PIL image: the input with labelled pixels tinted, and a legend panel to its right.

        Each category has a fixed colour (a hash of its wnid); unlabelled pixels keep their
        original colour; `alpha` in [0, 1] is the colour's weight (0 = the original pixels).
        The legend lists categories by area, at most 20 plus "and N more"; the canvas is
        widened (and heightened if the legend is taller) so that it never covers the image.
        """
        return render_overlay(self.image, self.labels, self.categories, alpha)

    def save(self, prefix: str | os.PathLike) -> dict[str, Path]:
        """Write `{prefix}_labels.png`, `{prefix}_overlay.png` and `{prefix}.json`.

        The labels PNG is 16-bit grayscale: 0 = unlabeled, `i + 1` = `categories[i]`. The
        JSON holds `source`, `height`, `width`, `unlabeled_pixels` and `categories`: a list
        of `{"index": i + 1, "wnid", "name", "lemmas", "gloss", "pixels"}`. Missing parent
        folders are created.

        Returns:
            {"labels": path, "overlay": path, "json": path}.
        """
        if len(self.categories) > MAX_SAVED_CATEGORIES:
            raise InputError(
                f"{len(self.categories)} categories do not fit a 16-bit label PNG "
                f"(at most {MAX_SAVED_CATEGORIES})"
            )
        base = os.fspath(prefix)
        paths = {
            "labels": Path(f"{base}_labels.png"),
            "overlay": Path(f"{base}_overlay.png"),
            "json": Path(f"{base}.json"),
        }
        paths["json"].parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((self.labels + 1).astype(np.uint16)).save(paths["labels"])
        self.overlay().save(paths["overlay"])
        areas = self._areas()
        summary = {
            "source": self.source,
            "height": self.height,
            "width": self.width,
            "unlabeled_pixels": int((self.labels < 0).sum()),
            "categories": [
                {
                    "index": i + 1,
                    "wnid": c.wnid,
                    "name": c.name,
                    "lemmas": list(c.lemmas),
                    "gloss": c.gloss,
                    "pixels": areas[i],
                }
                for i, c in enumerate(self.categories)
            ],
        }
        paths["json"].write_text(
            json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        return paths


def _shape(array: np.ndarray) -> str:
    """ "shape (2, 3), dtype int64" for error messages."""
    return f"shape {array.shape}, dtype {array.dtype}"
