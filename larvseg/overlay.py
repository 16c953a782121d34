"""Drawing a label map: deterministic category colours and an overlay with a legend."""

from __future__ import annotations

import colorsys
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import InputError

if TYPE_CHECKING:
    from .vocab.table import Category

LEGEND_ENTRIES = 20


def category_color(wnid: str) -> tuple[int, int, int]:
    """A saturated RGB colour for `wnid`, the same in every run and on every machine."""
    digest = hashlib.sha256(wnid.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    saturation = 0.55 + 0.45 * digest[2] / 255
    value = 0.7 + 0.3 * digest[3] / 255
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def blend_labels(
    image: np.ndarray, labels: np.ndarray, categories: Sequence[Category], alpha: float
) -> np.ndarray:
    """`(H, W, 3)` uint8 RGB: labelled pixels mixed with their category's colour.

    A pixel with label `i >= 0` becomes `round((1 - alpha) * pixel + alpha * colour_i)`;
    unlabelled (-1) pixels are left as they are, and `alpha=0` returns the image unchanged.
    """
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha={alpha} is not in [0, 1]")
    out = image.copy()
    labeled = labels >= 0
    if alpha > 0 and categories:
        colors = np.array([category_color(c.wnid) for c in categories], dtype=np.float32)
        mixed = (1 - alpha) * image[labeled].astype(np.float32) + alpha * colors[labels[labeled]]
        out[labeled] = np.rint(mixed).astype(np.uint8)
    return out


def legend_lines(
    categories: Sequence[Category], counts: np.ndarray, total: int | None = None
) -> list[tuple[str, str]]:
    """(wnid, text) rows by decreasing area, at most `LEGEND_ENTRIES` plus an "and N more".

    `counts[i]`: pixels of category i; `total`: pixels of the whole image (default: the
    sum of `counts`, an image without unlabeled pixels). The text is "name (first
    lemma) percent of the image", e.g. "dog.n.01 (dog) 42.0%"; the "more" row has an
    empty wnid. Unlabeled pixels (open mode) get a last "unlabeled 58.0%" row; with
    nothing labelled, "no labeled pixels" comes first.
    """
    labeled = int(counts.sum())
    total = labeled if total is None else total
    if labeled > total:
        raise InputError(f"{labeled} labeled pixels in an image of {total}")
    rows = [] if labeled else [("", "no labeled pixels")]
    order = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i] > 0]
    for i in order[:LEGEND_ENTRIES]:
        category = categories[i]
        lemma = category.lemmas[0].replace("_", " ") if category.lemmas else category.name
        rows.append((category.wnid, f"{category.name} ({lemma}) {100 * counts[i] / total:.1f}%"))
    if len(order) > LEGEND_ENTRIES:
        rows.append(("", f"and {len(order) - LEGEND_ENTRIES} more"))
    if labeled < total:
        rows.append(("", f"unlabeled {100 * (total - labeled) / total:.1f}%"))
    return rows


def render_overlay(
    image: np.ndarray, labels: np.ndarray, categories: Sequence[Category], alpha: float
) -> Image.Image:
    """The blended image (top left) with a legend panel to its right, on a white canvas.

    The canvas is `W + panel width` wide and `max(H, panel height)` tall, so the legend
    never covers the image; the text scales with the image's short side.
    """
    height, width = labels.shape
    counts = np.bincount(labels[labels >= 0], minlength=len(categories))
    rows = legend_lines(categories, counts, labels.size)
    font_size = max(12, min(height, width) // 40)
    font = ImageFont.load_default(size=font_size)
    pad, row_height = font_size // 2, round(font_size * 1.5)
    text_width = max(font.getlength(text) for _, text in rows)
    panel_width = 3 * pad + font_size + int(np.ceil(text_width)) + pad
    panel_height = 2 * pad + len(rows) * row_height
    canvas = Image.new("RGB", (width + panel_width, max(height, panel_height)), "white")
    canvas.paste(Image.fromarray(blend_labels(image, labels, categories, alpha)), (0, 0))
    draw = ImageDraw.Draw(canvas)
    for row, (wnid, text) in enumerate(rows):
        top = pad + row * row_height
        left = width + 2 * pad
        if wnid:
            box = (left, top, left + font_size, top + font_size)
            draw.rectangle(box, fill=category_color(wnid), outline=(0, 0, 0))
        draw.text((left + font_size + pad, top), text, fill=(0, 0, 0), font=font)
    return canvas
