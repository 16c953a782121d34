"""Training augmentation (docs/method.md), mmseg-style, in numpy and PIL.

Pipeline (`augment`): random rescale by a factor in [0.5, 2.0] of a base scale that
fits `(4 * crop, crop)` (mmseg's `(2048, 512)` for crop 512), random `crop x crop`
crop (retried up to 10 times while one class covers more than `cat_max_ratio` of the
labelled pixels), horizontal flip with p = 0.5, photometric distortion, and padding
to `crop x crop` (image 0, label ignore).

Images are `(H, W, 3)` uint8 RGB; label maps are `(H, W)` int64 class indices with
`IGNORE_INDEX` (-1) for ignored pixels. All randomness comes from the
`numpy.random.Generator` passed in, so a seeded generator reproduces a sample exactly.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ...evaluation.labelmaps import IGNORE_INDEX

RATIO_RANGE = (0.5, 2.0)
CROP_TRIES = 10
BRIGHTNESS_DELTA = 32.0
CONTRAST_RANGE = (0.5, 1.5)
SATURATION_RANGE = (0.5, 1.5)
HUE_DELTA = 18  # in OpenCV's hue units (180 = full turn), as mmseg


def resize_label(label: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of an `(H, W)` label map (any dtype) to `(height, width)`."""
    h, w = label.shape
    rows = np.minimum(((np.arange(height) + 0.5) * h / height).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * w / width).astype(np.int64), w - 1)
    return label[rows[:, None], cols[None, :]]


def rescale(
    image: np.ndarray,
    label: np.ndarray | None,
    rng: np.random.Generator,
    crop_size: int,
    ratio_range: tuple[float, float] = RATIO_RANGE,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize keeping the aspect ratio to fit `(4 * crop_size, crop_size) * ratio`.

    The ratio is uniform in `ratio_range`; the image is resized bilinearly, the label
    map by nearest neighbour.
    """
    ratio = rng.uniform(*ratio_range)
    h, w = image.shape[:2]
    long_target, short_target = 4 * crop_size * ratio, crop_size * ratio
    scale = min(long_target / max(h, w), short_target / min(h, w))
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR))
    return resized, None if label is None else resize_label(label, new_h, new_w)


def _crop_box(h: int, w: int, size: int, rng: np.random.Generator) -> tuple[int, int]:
    top = int(rng.integers(0, max(h - size, 0) + 1))
    left = int(rng.integers(0, max(w - size, 0) + 1))
    return top, left


def random_crop(
    image: np.ndarray,
    label: np.ndarray | None,
    rng: np.random.Generator,
    size: int,
    cat_max_ratio: float = 0.75,
) -> tuple[np.ndarray, np.ndarray | None]:
    """A random crop of at most `size x size` (smaller images keep their size).

    With a label map, the crop is redrawn (up to 10 tries, as mmseg) while a single
    class covers `cat_max_ratio` or more of its labelled pixels; 1.0 disables this.
    """
    h, w = image.shape[:2]
    top, left = _crop_box(h, w, size, rng)
    if label is not None and cat_max_ratio < 1.0:
        for _ in range(CROP_TRIES - 1):
            window = label[top : top + size, left : left + size]
            counts = np.unique(window[window != IGNORE_INDEX], return_counts=True)[1]
            if len(counts) > 1 and counts.max() / counts.sum() < cat_max_ratio:
                break
            top, left = _crop_box(h, w, size, rng)
    image = image[top : top + size, left : left + size]
    return image, None if label is None else label[top : top + size, left : left + size]


def random_flip(
    image: np.ndarray, label: np.ndarray | None, rng: np.random.Generator, prob: float = 0.5
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mirror image and label map left-right together with probability `prob`."""
    if rng.random() >= prob:
        return image, label
    return image[:, ::-1], None if label is None else label[:, ::-1]


def _hsv_shift(image: np.ndarray, saturation: float | None, hue: int | None) -> np.ndarray:
    """Scale saturation and/or rotate hue of a float `(H, W, 3)` RGB image in [0, 255]."""
    rgb = Image.fromarray(np.clip(image + 0.5, 0, 255).astype(np.uint8))
    hsv = np.asarray(rgb.convert("HSV")).astype(np.float32)
    if saturation is not None:
        hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
    if hue is not None:  # PIL's hue is 0..255 for a full turn, OpenCV's 0..180
        hsv[..., 0] = np.mod(hsv[..., 0] + hue * 256.0 / 180.0, 256.0)
    hsv_image = Image.fromarray(np.clip(hsv + 0.5, 0, 255).astype(np.uint8), mode="HSV")
    return np.asarray(hsv_image.convert("RGB")).astype(np.float32)


def photometric_distortion(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """mmseg's PhotoMetricDistortion: `(H, W, 3)` uint8 -> float32 in [0, 255].

    Each with p = 0.5: brightness + U(-32, 32); contrast * U(0.5, 1.5) (before or after
    the colour steps, chosen at random); saturation * U(0.5, 1.5); hue + U{-18..17}
    (OpenCV units).
    """
    out = image.astype(np.float32)
    if rng.integers(2):
        out = np.clip(out + rng.uniform(-BRIGHTNESS_DELTA, BRIGHTNESS_DELTA), 0, 255)
    contrast_first = bool(rng.integers(2))
    contrast = rng.uniform(*CONTRAST_RANGE) if rng.integers(2) else None
    if contrast_first and contrast is not None:
        out = np.clip(out * contrast, 0, 255)
    saturation = rng.uniform(*SATURATION_RANGE) if rng.integers(2) else None
    hue = int(rng.integers(-HUE_DELTA, HUE_DELTA)) if rng.integers(2) else None
    if saturation is not None or hue is not None:
        out = _hsv_shift(out, saturation, hue)
    if not contrast_first and contrast is not None:
        out = np.clip(out * contrast, 0, 255)
    return out


def pad_to(
    image: np.ndarray, label: np.ndarray | None, size: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pad bottom/right to at least `size x size`: image with 0, label with IGNORE_INDEX."""
    h, w = image.shape[:2]
    extra = ((0, max(size - h, 0)), (0, max(size - w, 0)))
    image = np.pad(image, (*extra, (0, 0)), constant_values=0)
    return image, None if label is None else np.pad(label, extra, constant_values=IGNORE_INDEX)


def augment(
    image: np.ndarray,
    label: np.ndarray | None,
    rng: np.random.Generator,
    crop_size: int,
    cat_max_ratio: float = 0.75,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The training pipeline: `(H, W, 3)` uint8 (+ `(H, W)` int64 labels) ->
    `(S, S, 3)` float32 in [0, 255] (+ `(S, S)` int64 labels), `S = crop_size`."""
    image, label = rescale(image, label, rng, crop_size)
    image, label = random_crop(image, label, rng, crop_size, cat_max_ratio)
    image, label = random_flip(image, label, rng)
    pixels = photometric_distortion(np.ascontiguousarray(image), rng)
    return pad_to(pixels, label, crop_size)
