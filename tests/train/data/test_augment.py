"""Augmentation (docs/method.md): shapes, label handling, flips, exact reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from larvseg.train.data.augment import (
    IGNORE_INDEX,
    augment,
    pad_to,
    photometric_distortion,
    random_crop,
    random_flip,
    rescale,
    resize_label,
)


def scene(h: int = 60, w: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """A random RGB image and a label map with a left/right asymmetry."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    label = np.zeros((h, w), dtype=np.int64)
    label[:, : w // 4] = 3
    label[: h // 2, w // 2 :] = 1
    return image, label


def test_resize_label_is_nearest_and_keeps_values() -> None:
    label = np.arange(12).reshape(3, 4)
    assert np.array_equal(resize_label(label, 6, 8)[::2, ::2], label)
    assert set(np.unique(resize_label(label, 5, 7))) <= set(range(12))


def test_rescale_range_follows_crop_size() -> None:
    image, label = scene(100, 200)
    for seed in range(20):
        out, out_label = rescale(image, label, np.random.default_rng(seed), crop_size=64)
        short = min(out.shape[:2])
        assert 0.5 * 64 - 1 <= short <= 2.0 * 64 + 1
        assert out_label is not None and out_label.shape == out.shape[:2]


def test_crop_and_pad_give_the_crop_size() -> None:
    image, label = scene(30, 50)
    crop, crop_label = random_crop(image, label, np.random.default_rng(0), 40)
    assert crop.shape == (30, 40, 3)
    padded, padded_label = pad_to(crop, crop_label, 40)
    assert padded.shape == (40, 40, 3) and padded_label is not None
    assert (padded[30:] == 0).all() and (padded_label[30:] == IGNORE_INDEX).all()


def test_flip_mirrors_image_and_label_together() -> None:
    image, label = scene()
    flips = 0
    for seed in range(10):
        out, out_label = random_flip(image, label, np.random.default_rng(seed))
        assert out_label is not None
        flipped = not np.array_equal(out, image)
        flips += flipped
        if flipped:
            assert np.array_equal(out, image[:, ::-1]) and np.array_equal(out_label, label[:, ::-1])
            assert (out_label[:, -(label.shape[1] // 4) :] == 3).all()
        else:
            assert np.array_equal(out_label, label)
    assert 0 < flips < 10


def test_photometric_distortion_stays_in_range_and_changes_pixels() -> None:
    image, _ = scene()
    outputs = [photometric_distortion(image, np.random.default_rng(s)) for s in range(8)]
    for out in outputs:
        assert out.dtype == np.float32 and out.shape == image.shape
        assert out.min() >= 0 and out.max() <= 255
    assert any(np.abs(out - image).mean() > 1 for out in outputs)


@pytest.mark.parametrize("with_label", [True, False])
def test_augment_is_exactly_reproducible(with_label: bool) -> None:
    image, label = scene(90, 120)
    first = augment(image, label if with_label else None, np.random.default_rng(7), 48)
    again = augment(image, label if with_label else None, np.random.default_rng(7), 48)
    other = augment(image, label if with_label else None, np.random.default_rng(8), 48)
    assert first[0].shape == (48, 48, 3)
    assert np.array_equal(first[0], again[0]) and not np.array_equal(first[0], other[0])
    if with_label:
        assert first[1] is not None and again[1] is not None and first[1].shape == (48, 48)
        assert np.array_equal(first[1], again[1])
        assert set(np.unique(first[1])) <= {IGNORE_INDEX, 0, 1, 3}
    else:
        assert first[1] is None
