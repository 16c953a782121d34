"""From feature-resolution logits to an image-resolution label map over requested items.

A labeling decides, per output pixel, which requested item (a synset standing for
itself and its hyponyms) wins, and how much probability mass that item holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .decode import upsampled_argmax, upsampled_gather

MODES = ("closed", "open")


@dataclass(frozen=True)
class LabelPlan:
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
            raise ValueError(f"mode={self.mode!r} is not one of {MODES}")

    @property
    def is_identity(self) -> bool:
        """Whether class i is item i for every class (no vocabulary subset)."""
        return len(self.assignment) == self.num_items and torch.equal(
            self.assignment, torch.arange(self.num_items)
        )


def label_pixels(
    logits: torch.Tensor, plan: LabelPlan, out_size: tuple[int, int], k: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Label map and confidence at `out_size` from logits over all model classes.

    Args:
        logits: `(h, w, C)` float32 logits at feature resolution (score normalisation
            already done over all `C` classes).
        plan: the class -> item mapping and mode.
        out_size: `(H, W)` output size.
        k: decoding candidates per patch (see `decode.upsampled_argmax`).

    Returns:
        labels `(H, W)` int32 item indices (-1 = unlabeled in open mode) and scores
        `(H, W)` float32: the bilinearly upsampled softmax mass of the pixel's item (for an
        unlabeled pixel, the mass of all classes under no item).
    """
    assignment = plan.assignment
    if plan.mode == "closed" and bool((assignment < 0).any()):
        decided = (assignment >= 0).nonzero().squeeze(1)
        logits = logits[..., decided]
        assignment = assignment[decided]
    winners = upsampled_argmax(logits, out_size, k)
    if plan.mode == "closed" and plan.is_identity:  # each class its own item: no regrouping
        scores = upsampled_gather(logits, winners, logits.logsumexp(dim=-1))
        return winners.to(torch.int32).numpy(), scores.numpy()
    probs = logits.softmax(dim=-1)
    items = torch.where(assignment >= 0, assignment, plan.num_items)  # unassigned -> extra slot
    mass = probs.new_zeros(*probs.shape[:2], plan.num_items + 1)
    mass.index_add_(2, items, probs)
    labels = assignment[winners]
    scores = upsampled_gather(mass, torch.where(labels >= 0, labels, plan.num_items))
    return labels.to(torch.int32).numpy(), scores.numpy()
