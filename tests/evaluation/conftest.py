"""Evaluation fixtures: in-memory datasets (`EvalDataset`s) of random images and targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from larvseg.evaluation.labelmaps import IGNORE_INDEX


class InMemory:
    """An `EvalDataset`: RGB images and their targets over `classes`."""

    def __init__(self, classes: list[str], items: list[Any]) -> None:
        self.classes, self.items = classes, items

    def __len__(self) -> int:
        return len(self.items)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        return self.items[index]


def _random_items(num_classes: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two RGB images of different sizes and targets over `num_classes` classes (the
    first 3 rows ignored)."""
    rng = np.random.default_rng(seed)
    items = []
    for h, w in [(40, 56), (72, 48)]:
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        target = rng.integers(0, num_classes, (h, w))
        target[:3] = IGNORE_INDEX
        items.append((pixels, target))
    return items


@pytest.fixture()
def in_memory() -> Callable[..., InMemory]:
    """Factory: `in_memory(classes, items)`, an `EvalDataset` over `items` ((image, target)
    pairs, or None for an unreadable image)."""
    return InMemory


@pytest.fixture()
def random_items() -> Callable[..., list[tuple[np.ndarray, np.ndarray]]]:
    """Factory: `random_items(num_classes, seed=0)`, two random (image, target) pairs."""
    return _random_items
