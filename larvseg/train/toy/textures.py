"""Procedural textures and region layouts for the toy benchmark (`larvseg.train.toy.generate`).

A class is a texture *pattern* (family, orientation, period); every region of it gets
its own random colours, phase and a small jitter of angle and period. Colours are
drawn from one distribution for every class, so a single pixel says nothing about
its class: telling classes apart needs the pattern around it (local context).
Layouts are warped, additively weighted Voronoi partitions, so regions vary in shape
and size. All functions are deterministic given their `numpy.random.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

FAMILIES = ("grating", "waves", "checker", "dots", "bricks", "grid", "blobs")
ANGLE_JITTER_DEG = 8.0
PERIOD_JITTER = 0.15
PIXEL_NOISE = 0.04
MIN_CONTRAST = 0.35


@dataclass(frozen=True)
class Pattern:
    """One class's texture: `family` in FAMILIES, orientation `angle` (degrees) and
    `period` (pixels).

    Classes differ by family and orientation only, never by period alone: training
    rescales images by up to 2x either way, which would make periods ambiguous.
    """

    family: str
    angle: float
    period: float


def pattern_catalogue() -> list[Pattern]:
    """The 16 distinct patterns, in the fixed order classes are assigned them.

    Families are interleaved so that the first 8 (the default base classes) and the
    next ones (novel) both mix families; most novel patterns are a base family at
    another orientation.
    """
    grating, waves, checker = (4.0, 5.0, 5.0)
    dots, bricks, grid, blobs = (5.0, 5.0, 5.0, 8.0)
    return [
        Pattern("grating", 0.0, grating),
        Pattern("waves", 0.0, waves),
        Pattern("checker", 0.0, checker),
        Pattern("dots", 0.0, dots),
        Pattern("bricks", 0.0, bricks),
        Pattern("grating", 90.0, grating),
        Pattern("waves", 90.0, waves),
        Pattern("blobs", 0.0, blobs),
        Pattern("grating", 45.0, grating),
        Pattern("waves", 45.0, waves),
        Pattern("checker", 45.0, checker),
        Pattern("dots", 45.0, dots),
        Pattern("bricks", 90.0, bricks),
        Pattern("grating", 135.0, grating),
        Pattern("waves", 135.0, waves),
        Pattern("grid", 0.0, grid),
    ]


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """A smooth random field `(size, size)` in about [-1, 1]: a `cells x cells` grid of
    uniform values, resized bicubically."""
    grid = rng.uniform(-1.0, 1.0, (cells, cells)).astype(np.float32)
    return np.asarray(
        Image.fromarray(grid, mode="F").resize((size, size), Image.Resampling.BICUBIC)
    )


def texture_field(pattern: Pattern, size: int, rng: np.random.Generator) -> np.ndarray:
    """Intensity `(size, size)` in [0, 1] of `pattern` with random phase and jitter."""
    angle = np.deg2rad(pattern.angle + rng.uniform(-ANGLE_JITTER_DEG, ANGLE_JITTER_DEG))
    period = pattern.period * (1.0 + rng.uniform(-PERIOD_JITTER, PERIOD_JITTER))
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    u = (x * np.cos(angle) + y * np.sin(angle)) / period + rng.uniform(0, 1)
    v = (-x * np.sin(angle) + y * np.cos(angle)) / period + rng.uniform(0, 1)
    if pattern.family == "grating":
        field = 0.5 + 0.5 * np.sin(2 * np.pi * u)
    elif pattern.family == "waves":
        field = 0.5 + 0.5 * np.sin(2 * np.pi * (u + 0.35 * np.sin(np.pi * v)))
    elif pattern.family == "checker":
        field = 0.5 + 0.5 * np.tanh(3.0 * np.sin(np.pi * u) * np.sin(np.pi * v))
    elif pattern.family == "dots":
        field = np.exp(-((u % 1.0 - 0.5) ** 2 + (v % 1.0 - 0.5) ** 2) / (2 * 0.18**2))
    elif pattern.family == "bricks":
        joint = (u / 2 + 0.5 * np.floor(v)) % 1.0 < 0.1
        field = np.where((v % 1.0 < 0.18) | joint, 0.0, 1.0)
    elif pattern.family == "grid":
        field = np.where((u % 1.0 < 0.22) | (v % 1.0 < 0.22), 0.0, 1.0)
    elif pattern.family == "blobs":
        cells = max(2, round(size / period))
        field = 0.5 + 0.5 * np.tanh(4.0 * _smooth_noise(rng, size, cells))
    else:
        raise ValueError(f"unknown texture family {pattern.family!r}; expected one of {FAMILIES}")
    return field.astype(np.float32)


def region_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two RGB colours in [0, 1] whose luminances differ by at least MIN_CONTRAST."""
    weights = np.array([0.299, 0.587, 0.114])
    while True:
        dark, light = rng.uniform(0.0, 1.0, (2, 3))
        if abs(float(light @ weights) - float(dark @ weights)) >= MIN_CONTRAST:
            return dark, light


def paint(mask: np.ndarray, patterns: list[Pattern], rng: np.random.Generator) -> np.ndarray:
    """RGB uint8 `(S, S, 3)` of a region map: region `i` of `mask (S, S)` gets `patterns[i]`.

    Each region has its own texture draw and colours; Gaussian pixel noise on top.
    """
    size = mask.shape[0]
    image = np.zeros((size, size, 3), dtype=np.float32)
    for region, pattern in enumerate(patterns):
        inside = mask == region
        if not inside.any():
            continue
        field = texture_field(pattern, size, rng)[inside][:, None]
        dark, light = region_colours(rng)
        image[inside] = dark * (1.0 - field) + light * field
    image += rng.normal(0.0, PIXEL_NOISE, image.shape).astype(np.float32)
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def voronoi_layout(count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Region index `(size, size)` int64 in [0, count) of a warped weighted Voronoi map.

    Seeds are uniform, each region gets a random additive weight (so sizes vary) and
    the plane is warped by a smooth random displacement (so borders curve). A region
    may end up absent when its neighbours swallow it.
    """
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    warp = 0.18 * size
    wx = x + warp * _smooth_noise(rng, size, 4)
    wy = y + warp * _smooth_noise(rng, size, 4)
    seeds = rng.uniform(0, size, (count, 2)).astype(np.float32)
    weights = rng.uniform(0.0, 0.35 * size, count).astype(np.float32)
    distance = np.hypot(wx[None] - seeds[:, 0, None, None], wy[None] - seeds[:, 1, None, None])
    return np.argmin(distance - weights[:, None, None], axis=0).astype(np.int64)


def central_blob(size: int, rng: np.random.Generator) -> np.ndarray:
    """Bool `(size, size)`: one large object near the centre with a wavy outline.

    An ellipse with radii 0.25-0.42 of the image side, centre within 0.1 of the middle,
    its radius modulated by a smooth random field: about 20-55% of the image.
    """
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = size * (0.5 + rng.uniform(-0.1, 0.1, 2))
    ry, rx = size * rng.uniform(0.25, 0.42, 2)
    radius = np.hypot((y - cy) / ry, (x - cx) / rx)
    blob: np.ndarray = radius < 1.0 + 0.25 * _smooth_noise(rng, size, 3)
    return blob
