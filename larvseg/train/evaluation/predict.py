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
from ...pipeline.predict import predict_labels
from ...vocab.table import Category
from ...vocab.vocabulary import Vocabulary
from ..errors import EvaluationError


class ClassPredictor:
    """`predictor(image)` -> `(H, W)` int64 index into `classes` of every pixel.

    Args:
        model: the network (eval mode, on its device).
        classes: the benchmark's classes (wnids, unique), in label order.
        size: short side images are resized to (default the model's `image_size`).
        window, window_step: sliding windows (default `size` and 2/3 of it).
        stride: patch-embedding stride, a divisor of the patch size (default the patch
            size); see `predict_labels`.
        k: decoding candidates per patch, as in `segment()`; None = exact argmax.
        batch_size: windows per forward pass.
        autocast_dtype: `torch.bfloat16` to run the network under autocast.
        source: the dataset's name, for error messages.
    """

    def __init__(
        self,
        model: LarvSegModel,
        classes: Sequence[str],
        *,
        size: int | None = None,
        window: int | None = None,
        window_step: int | None = None,
        stride: int | None = None,
        k: int | None = 8,
        batch_size: int = 4,
        autocast_dtype: torch.dtype | None = None,
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
        self.size, self.window, self.window_step, self.k = size, window, window_step, k
        self.stride = stride
        self.batch_size, self.autocast_dtype = batch_size, autocast_dtype

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Class index `(H, W)` int64 of each pixel of an `(H, W, 3)` uint8 RGB image."""
        ((labels, _),) = predict_labels(
            self.model,
            [image],
            self.assignment,
            size=self.size,
            window=self.window,
            window_step=self.window_step,
            stride=self.stride,
            batch_size=self.batch_size,
            k=self.k,
            autocast_dtype=self.autocast_dtype,
        )
        return labels.astype(np.int64)
