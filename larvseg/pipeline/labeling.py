"""From feature-resolution logits to an image-resolution label map over requested items.

A labeling decides, per output pixel, which requested item (a synset standing for
itself and its hyponyms) wins, and how much probability mass that item holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..vocab.table import Category
from ..vocab.vocabulary import Vocabulary
from .decode import upsampled_argmax, upsampled_gather

MODES = ("closed", "open")


@dataclass(frozen=True)
class ItemAssignment:
    """How model classes map to the items of a result.

    Attributes:
        assignment: `(C,)` int64, model class -> item index, -1 for classes under no item.
        num_items: number of items `R`.
        mode: "closed": decide among the classes under some item only;
            "open": decide among all classes, pixels won by an unassigned class are -1.
    """

    assignment: torch.Tensor
    num_items: int
    mode: str

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"mode={self.mode!r} is not one of {MODES}")

    @property
    def is_identity(self) -> bool:
        """Whether class i is item i for every class (no vocabulary subset)."""
        return len(self.assignment) == self.num_items and torch.equal(
            self.assignment, torch.arange(self.num_items)
        )


def assign_items(
    vocabulary: Vocabulary, vocab: Sequence[Any] | None, mode: str = "closed"
) -> tuple[ItemAssignment, list[Category]]:
    """The class -> item mapping for `vocab` over a model's `vocabulary`, and the items.

    `vocab` is what `Vocabulary.subset` takes (a single item too); None makes every
    model category an item of its own. Raises `VocabularyError` for an unusable
    vocabulary and `InputError` for an unknown mode.
    """
    if vocab is None:
        count = len(vocabulary)
        return ItemAssignment(torch.arange(count), count, mode), vocabulary.categories
    subset = vocabulary.subset(vocab)
    assignment = torch.from_numpy(subset.assignment).long()
    return ItemAssignment(assignment, len(subset.items), mode), subset.items


def label_pixels(
    logits: torch.Tensor,
    items: ItemAssignment,
    out_size: tuple[int, int],
    k: int | None = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Label map and confidence at `out_size` from logits over all model classes.

    Args:
        logits: `(h, w, C)` float32 logits at feature resolution (score normalisation
            already done over all `C` classes).
        items: the class -> item mapping and mode.
        out_size: `(H, W)` output size.
        k: decoding candidates per patch (see `decode.upsampled_argmax`); None = the
            exact argmax of the upsampled logits.

    Returns:
        labels `(H, W)` int32 item indices (-1 = unlabeled in open mode) and scores
        `(H, W)` float32: the bilinearly upsampled softmax mass of the pixel's item (for
        an unlabeled pixel, the mass of all classes under no item).
    """
    assignment = items.assignment
    if items.mode == "closed" and bool((assignment < 0).any()):
        decided = (assignment >= 0).nonzero().squeeze(1)
        logits = logits[..., decided]
        assignment = assignment[decided]
    winners = upsampled_argmax(logits, out_size, k)
    if items.mode == "closed" and items.is_identity:  # each class its own item: no regrouping
        labels = winners
        scores = upsampled_gather(logits, winners, logits.logsumexp(dim=-1))
    else:
        labels = assignment[winners]
        scores = _item_scores(logits, assignment, items.num_items, labels)
    return labels.to(torch.int32).numpy(), scores.numpy()


def _item_scores(
    logits: torch.Tensor, assignment: torch.Tensor, num_items: int, labels: torch.Tensor
) -> torch.Tensor:
    """Upsampled softmax mass `(H, W)` of each pixel's item (-1: of the unassigned classes)."""
    probs = logits.softmax(dim=-1)
    slots = torch.where(assignment >= 0, assignment, num_items)  # unassigned -> extra slot
    mass = probs.new_zeros(*probs.shape[:2], num_items + 1)
    mass.index_add_(2, slots, probs)
    return upsampled_gather(mass, torch.where(labels >= 0, labels, num_items))
