"""From feature-resolution logits to an image-resolution label map over requested items.

A labeling decides, per output pixel, which requested item (a synset standing for
itself and its hyponyms) wins, and how much probability mass that item holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..vocab.table import Category
from ..vocab.vocabulary import Vocabulary
from .decode import upsampled_argmax, upsampled_gather

MODES = ("closed", "open")
CELL_BAND_ELEMENTS = 1 << 20
"""Logits reduced at once (softmax, logsumexp): 4 MiB of float32, whole cells, which stay in
a CPU's cache between the passes of a reduction (half the time of one pass over a 512x512
image's 21,843-class grid, the same numbers) and bound the temporaries of dense grids."""


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
        """Whether class i is item i for every class (no vocabulary subset), or, where
        only some classes are decided among, for every decided one (a preselection)."""
        decided = self.decided
        if decided is not None:
            return torch.equal(self.assignment[decided], decided)
        return len(self.assignment) == self.num_items and torch.equal(
            self.assignment, torch.arange(self.num_items, device=self.assignment.device)
        )

    def restricted(self, classes: torch.Tensor) -> ItemAssignment:
        """The same items with only `classes` `(S,)` under them (a preselection): in
        closed mode only they are decided among, in open mode the others are unlabeled."""
        kept = torch.full_like(self.assignment, -1)
        kept[classes] = self.assignment[classes]
        return ItemAssignment(kept, self.num_items, self.mode)

    @property
    def decided(self) -> torch.Tensor | None:
        """The model classes a pixel is decided among, `(C',)` int64: in closed mode those
        under some item; None = all classes. `label_pixels` reads logits of these only."""
        if self.mode == "closed" and bool((self.assignment < 0).any()):
            return (self.assignment >= 0).nonzero().squeeze(1)
        return None


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
    span: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Label map and confidence at `out_size` from feature-resolution logits.

    Decoding runs on the logits' device (the model's); only the results come to the CPU.

    Args:
        logits: `(h, w, C')` float32 logits of the classes `items.decided` (all `C`
            classes when it is None), score normalisation already done over all `C`;
            on any device.
        items: the class -> item mapping and mode.
        out_size: `(H, W)` output size.
        k: decoding candidates per patch (see `decode.upsampled_argmax`); None = the
            exact argmax of the upsampled logits.
        span: patch size over the stride the grid was computed at (`decode.bilinear_taps`).

    Returns:
        labels `(H, W)` int32 item indices (-1 = unlabeled in open mode) and scores
        `(H, W)` float32: the bilinearly upsampled softmax mass of the pixel's item (for
        an unlabeled pixel, the mass of all classes under no item).
    """
    decided = items.decided
    assignment = (items.assignment if decided is None else items.assignment[decided]).to(
        logits.device
    )
    if logits.shape[-1] != len(assignment):
        raise InputError(
            f"logits have {logits.shape[-1]} classes, the labeling decides among {len(assignment)}"
        )
    winners = upsampled_argmax(logits, out_size, k, span)
    if items.mode == "closed" and items.is_identity:  # each class its own item: no regrouping
        labels = winners if decided is None else decided[winners]
        scores = upsampled_gather(logits, winners, _by_cells(_logsumexp, logits), span)
    else:
        labels = assignment[winners]
        mass = _by_cells(lambda cells: _item_mass(cells, assignment, items.num_items), logits)
        slots = torch.where(labels >= 0, labels, items.num_items)
        scores = upsampled_gather(mass, slots, span=span)
    return labels.to(torch.int32).cpu().numpy(), scores.cpu().numpy()


def _by_cells(fn: Callable[[torch.Tensor], torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
    """`fn` applied to the logits `(h, w, C)` as rows of cells `(n, C)`, in bands of at most
    `CELL_BAND_ELEMENTS` logits; `fn`'s `(n, ...)` results are joined into `(h, w, ...)`."""
    height, width, classes = logits.shape
    flat = logits.reshape(height * width, classes)
    band = max(1, CELL_BAND_ELEMENTS // max(1, classes))
    out = torch.cat([fn(flat[start : start + band]) for start in range(0, len(flat), band)])
    return out.reshape(height, width, *out.shape[1:])


def _logsumexp(logits: torch.Tensor) -> torch.Tensor:
    return logits.logsumexp(dim=-1)


def _item_mass(logits: torch.Tensor, assignment: torch.Tensor, num_items: int) -> torch.Tensor:
    """Softmax mass `(n, R + 1)` of each item for logits `(n, C)`; slot `R` holds the
    unassigned classes."""
    probs = logits.softmax(dim=-1)
    slots = torch.where(assignment >= 0, assignment, num_items)  # unassigned -> extra slot
    mass = probs.new_zeros(len(probs), num_items + 1)
    mass.index_add_(1, slots, probs)
    return mass
