"""Predicted class maps for evaluation, through exactly the pipeline `segment()` runs.

A benchmark's classes are the vocabulary: each class covers its synset and all its
hyponyms among the model's categories (closed mode), as `segment(vocab=classes)`
does, so a 21K model can be scored on a dataset whose classes are parents of model
categories. The label of a pixel is the index of its class in the benchmark's list.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ...errors import VocabularyError
from ...modeling.model import LarvSegModel
from ...pipeline.labeling import ItemAssignment
from ...pipeline.predict import PredictOptions, predict_labels
from ...vocab.table import Category
from ...vocab.vocabulary import Vocabulary
from ..errors import EvaluationError


class ClassPredictor:
    """`predictor(image)` -> `(H, W)` int64 index into `classes` of every pixel.

    Args:
        model: the network (eval mode, on its device).
        classes: the benchmark's classes (wnids, unique), in label order.
        options: sizes, windows, stride, batching and decoding, as `segment()` runs them
            (default `PredictOptions()`).
        source: the dataset's name, for error messages.
    """

    def __init__(
        self,
        model: LarvSegModel,
        classes: Sequence[str],
        options: PredictOptions | None = None,
        *,
        source: str = "",
    ) -> None:
        if len(set(classes)) != len(classes) or not classes:
            raise EvaluationError(f"evaluation source {source!r}: classes must be unique wnids")
        try:
            subset = Vocabulary(model.config.categories).subset(list(classes))
        except VocabularyError as err:
            raise EvaluationError(f"evaluation source {source!r}: {err}") from err
        self.model = model
        self.items: list[Category] = subset.items
        self.assignment = ItemAssignment(
            torch.from_numpy(subset.assignment), len(subset.items), "closed"
        )
        self.options = options or PredictOptions()

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Class index `(H, W)` int64 of each pixel of an `(H, W, 3)` uint8 RGB image."""
        ((labels, _),) = predict_labels(self.model, [image], self.assignment, self.options)
        return labels.astype(np.int64)
