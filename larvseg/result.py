"""`Segmentation`: the result of `LarvSeg.segment` for one image (masks, counts, overlay, files)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .atomic import save_image, write_text
from .errors import InputError
from .extras import import_extra
from .overlay import blend_labels, category_color, render_overlay

if TYPE_CHECKING:
    import supervision as sv

    from .vocab.table import Category
    from .vocab.vocabulary import Vocabulary

MAX_SAVED_CATEGORIES = 65535  # label PNGs are 16-bit with 0 reserved for unlabeled
PALETTE_CATEGORIES = 255  # up to this many, the labels PNG is an 8-bit palette image


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

    @classmethod
    def from_items(
        cls,
        labels: np.ndarray,
        scores: np.ndarray,
        items: Sequence[Category],
        image: np.ndarray,
        vocabulary: Vocabulary,
        source: str | None = None,
    ) -> Segmentation:
        """The result of a prediction over `items` (`labels` index them, -1 = unlabeled),
        keeping as `categories` only the items that label some pixel, in item order."""
        shifted = labels.ravel() + 1  # 0 = unlabeled, i + 1 = item i
        present = np.flatnonzero(np.bincount(shifted, minlength=len(items) + 1)[1:])
        remap = np.full(len(items) + 1, -1, dtype=np.int32)  # item -> index among present
        remap[present + 1] = np.arange(len(present), dtype=np.int32)
        return cls(
            labels=remap[shifted].reshape(labels.shape),
            scores=scores,
            categories=[items[int(i)] for i in present],
            image=image,
            vocabulary=vocabulary,
            source=source,
        )

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

    def overlay(self, alpha: float = 0.5, legend: bool = True) -> Image.Image:
        """RGB PIL image: the input with labelled pixels tinted, and a legend panel to its right.

        Each category has a fixed colour (a hash of its wnid); unlabelled pixels keep their
        original colour; `alpha` in [0, 1] is the colour's weight (0 = the original pixels).
        The legend lists categories by area as shares of the whole image, at most 20 plus
        "and N more", then the unlabeled share (open mode); the canvas is
        widened (and heightened if the legend is taller) so that it never covers the image.
        With `legend=False` the image is the tinted input alone, exactly `W x H`, to
        composite over the input or stack with other layers.
        """
        if not legend:
            return Image.fromarray(blend_labels(self.image, self.labels, self.categories, alpha))
        return render_overlay(self.image, self.labels, self.categories, alpha)

    def to_pipeline(self) -> list[dict[str, Any]]:
        """The result as transformers' `pipeline("image-segmentation")` gives it for a
        semantic segmentation model: one dict per category with pixels, in label order.

        Each dict is `{"label": str, "score": float, "mask": PIL.Image}`: `label` is the
        synset name ("dog.n.01"); `mask` is a mode "L" image of the input's size, 255 where
        the category is and 0 elsewhere; `score` is the mean of `scores` (the pixels'
        confidence) over the mask. transformers gives `score=None` for semantic models,
        which have no per-segment confidence; larvseg reports this mean instead.
        Unlabeled pixels (open mode) are in no mask.
        """
        return [
            {
                "label": category.name,
                "score": float(self.scores[mask].mean()),
                "mask": Image.fromarray(mask.astype(np.uint8) * np.uint8(255)),
            }
            for _, category, mask in self._present_masks()
        ]

    def to_supervision(self) -> sv.Detections:
        """The result as roboflow `supervision` detections, one per category with pixels.

        Needs the `supervision` extra. In label order, each detection has its boolean
        mask `(H, W)` (in `mask`, `(N, H, W)`), the mask's bounding box (`xyxy`, pixel
        corners inclusive as `supervision.mask_to_xyxy` gives them), `class_id` = its index
        in `categories`, `confidence` = the mean of `scores` over the mask, and in `data`
        the synset names (`"class_name"`, which supervision's label annotators show) and
        wnids (`"wnid"`).
        """
        sv = import_extra("supervision", "supervision", "Segmentation.to_supervision()")
        present = self._present_masks()
        masks = np.zeros((len(present), self.height, self.width), dtype=bool)
        for row, (_, _, mask) in enumerate(present):
            masks[row] = mask
        return sv.Detections(
            xyxy=sv.mask_to_xyxy(masks).astype(np.float32).reshape(-1, 4),
            mask=masks,
            confidence=np.array([self.scores[m].mean() for m in masks], dtype=np.float32),
            class_id=np.array([i for i, _, _ in present], dtype=np.int64),
            data={
                "class_name": np.array([c.name for _, c, _ in present], dtype=str),
                "wnid": np.array([c.wnid for _, c, _ in present], dtype=str),
            },
        )

    def _present_masks(self) -> list[tuple[int, Category, np.ndarray]]:
        """(index, category, `(H, W)` bool mask) of each category with pixels, in label order."""
        return [
            (i, category, self.labels == i)
            for i, (category, area) in enumerate(zip(self.categories, self._areas(), strict=True))
            if area > 0
        ]

    def save(self, prefix: str | os.PathLike) -> dict[str, Path]:
        """Write `{prefix}_labels.png`, `{prefix}_overlay.png` and `{prefix}.json`.

        The labels PNG holds 0 = unlabeled, `i + 1` = `categories[i]`: with up to 255
        categories it is an 8-bit palette PNG whose colours are the overlay's (unlabeled
        black), so a viewer shows the regions in colour while
        `np.asarray(Image.open(path))` still reads the indices; with more, 16-bit
        grayscale. The
        JSON holds `source`, `height`, `width`, `unlabeled_pixels` and `categories`: a list
        of `{"index": i + 1, "wnid", "name", "lemmas", "gloss", "pixels"}`. Missing parent
        folders are created. Each file is written to a temporary name and renamed into
        place (`larvseg.atomic`), the JSON last: an interrupted save never leaves a
        truncated file, and a JSON beside its PNGs means all three are complete.

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
        save_image(label_png(self.labels, self.categories), paths["labels"])
        save_image(self.overlay(), paths["overlay"])
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
        write_text(paths["json"], json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        return paths


def label_png(labels: np.ndarray, categories: Sequence[Category]) -> Image.Image:
    """The labels `(H, W)` (-1 = unlabeled) as a PNG image of values `label + 1`: mode P
    with each category's colour (0 black) for up to 255 categories, else 16-bit."""
    values = labels + 1
    if len(categories) > PALETTE_CATEGORIES:
        return Image.fromarray(values.astype(np.uint16))
    png = Image.fromarray(values.astype(np.uint8), mode="P")
    colors = [(0, 0, 0)] + [category_color(c.wnid) for c in categories]
    png.putpalette([channel for color in colors for channel in color])
    return png


def _shape(array: np.ndarray) -> str:
    """ "shape (2, 3), dtype int64" for error messages."""
    return f"shape {array.shape}, dtype {array.dtype}"
