"""Predicted class maps for evaluation, through exactly the pipeline `segment()` runs.

A benchmark's classes are the vocabulary: each class covers its synset and all its
hyponyms among the model's categories (closed mode), as `segment(vocab=classes)`
does, so a 21K model can be scored on a dataset whose classes are parents of model
categories. The label of a pixel is the index of its class in the benchmark's list.
A class covering no model category can never be predicted: an error by default,
scored (IoU 0 where it occurs) with `allow_uncovered`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..errors import EvaluationError, VocabularyError
from ..modeling.model import LarvSegModel
from ..pipeline.labeling import ItemAssignment
from ..pipeline.predict import PredictOptions, predict_labels
from ..vocab.table import Category
from ..vocab.vocabulary import Vocabulary, listing

SHOWN_UNCOVERED = 10


DEFAULT_OPTIONS = PredictOptions()
"""`segment()`'s defaults: the model's size, windows of that size, k = 8, fp32."""


class ClassPredictor:
    """`predictor(image)` -> `(H, W)` int64 index into `classes` of every pixel.

    Args:
        model: the network (eval mode, on its device).
        classes: the benchmark's classes (wnids, unique), in label order.
        options: how images are scored.
        source: the dataset's name, for error messages.
        allow_uncovered: score classes that cover no model category (never predicted,
            listed in `uncovered`) instead of raising `EvaluationError`.

    Attributes:
        names: each class's synset name, else its wnid (one that is no WordNet 3.0
            noun synset).
        uncovered: the classes (wnids) that cover no model category, in class order.
    """

    def __init__(
        self,
        model: LarvSegModel,
        classes: Sequence[str],
        options: PredictOptions = DEFAULT_OPTIONS,
        *,
        source: str = "",
        allow_uncovered: bool = False,
    ) -> None:
        options.fit(model.patch_size)  # a bad stride or window fails before any image
        where = f"evaluation source {source!r}"
        classes = list(classes)
        if len(set(classes)) != len(classes) or not classes:
            raise EvaluationError(f"{where}: classes must be unique wnids")
        try:
            vocab = Vocabulary(model.config.categories)
        except VocabularyError as err:
            raise EvaluationError(f"{where}: the model's categories: {err}") from err
        resolved = [_resolve(vocab, wnid) for wnid in classes]
        self.names = [w if c is None else c.name for w, c in zip(classes, resolved, strict=True)]
        covered = [i for i, c in enumerate(resolved) if c is not None and _covers(vocab, c)]
        self.uncovered = [classes[i] for i in sorted(set(range(len(classes))) - set(covered))]
        if not covered or (self.uncovered and not allow_uncovered):
            missing = set(self.uncovered)
            shown = [f"{n} ({w})" for w, n in zip(classes, self.names, strict=True) if w in missing]
            raise EvaluationError(
                f"{where}: {len(self.uncovered)} of its {len(classes)} classes cover none of "
                f"this model's {len(vocab):,} categories and could never be predicted: "
                f"{listing(shown, SHOWN_UNCOVERED)}; "
                + (
                    "score them anyway (IoU 0 where they occur) with allow_uncovered "
                    "(larvseg eval --allow-uncovered)"
                    if covered
                    else "evaluate a model trained with these classes"
                )
            )
        subset = vocab.subset([resolved[i] for i in covered])
        position = np.asarray(covered, dtype=np.int64)
        assignment = np.where(subset.assignment >= 0, position[subset.assignment], -1)
        self.model = model
        self.assignment = ItemAssignment(torch.from_numpy(assignment), len(classes), "closed")
        self.options = options

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Class index `(H, W)` int64 of each pixel of an `(H, W, 3)` uint8 RGB image."""
        ((labels, _),) = predict_labels(self.model, [image], self.assignment, self.options)
        return labels.astype(np.int64)


def _resolve(vocab: Vocabulary, wnid: str) -> Category | None:
    """The synset of `wnid`, None where it is no WordNet 3.0 noun synset."""
    try:
        return vocab.resolve(wnid)
    except VocabularyError:
        return None


def _covers(vocab: Vocabulary, category: Category) -> bool:
    """Whether `category` is, or is an ancestor of, at least one model category."""
    try:
        vocab.member_indices(category)
    except VocabularyError:
        return False
    return True
