"""Batch inference with Ray Data: `Segmenter`, a callable class for `Dataset.map_batches`.

    import ray
    from larvseg.integrations.ray import Segmenter

    ds = ray.data.read_binary_files("s3://bucket/photos/", include_paths=True)
    ds = ds.map_batches(
        Segmenter,
        fn_constructor_kwargs={"model": "timm/vit_base_patch16_224.augreg_in21k",
                               "vocab": ["dog.n.01", "cat.n.01"], "dtype": "bf16"},
        concurrency=4, num_gpus=1, batch_size=16,
    )
    ds.write_parquet("s3://bucket/labels/")

Each actor loads the model once; every batch's images run through `predict_labels`
together (their windows share forward passes). A file that cannot be decoded becomes a
row with its `error`, never a failed task.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DEFAULT_MODEL
from ..errors import ImageError, InputError
from ..extras import import_extra
from ..pipeline.image import load_image
from ..pipeline.predict import PredictOptions, predict_labels
from ..result import Segmentation
from ..segmenter import LarvSeg

import_extra("ray.data", "ray", "larvseg.integrations.ray")  # without the extra: say which

INPUT_COLUMNS = ("image", "bytes")
"""Accepted pixel columns: `read_images` gives `image` (decoded arrays), `read_binary_files`
gives `bytes` (a file's contents, decoded by `load_image`)."""


class Segmenter:
    """Segments a Ray Data batch: `ds.map_batches(Segmenter, fn_constructor_kwargs={...})`.

    Args:
        model: a larvseg checkpoint or timm classifier, as a folder or hub id (what
            `LarvSeg.from_pretrained` takes); loaded once per actor.
        vocab: what to segment (`LarvSeg.segment`'s `vocab`); None = all categories.
        mode: "closed" or "open" (`LarvSeg.segment`).
        device: "auto" (CUDA when the actor has a GPU, `num_gpus=1`), "cpu", "cuda", ...
        dtype: None (fp32) or "bf16" / "fp16" autocast.
        size, stride, batch_size, k: `LarvSeg.segment`'s options; `batch_size` is windows
            per forward pass (None = as many as the device's memory holds), not Ray's
            rows per batch.
        keep_inputs: keep the `image` / `bytes` column in the output (default: dropped,
            so the pixels are not carried on to the writer).
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_MODEL,
        vocab: Sequence[Any] | None = None,
        mode: str = "closed",
        *,
        device: str = "auto",
        dtype: str | None = None,
        size: int | None = None,
        stride: int | None = None,
        batch_size: int | None = None,
        k: int = 8,
        keep_inputs: bool = False,
    ) -> None:
        self.segmenter = LarvSeg.from_pretrained(model, device=device, dtype=dtype)
        self.assignment, self.items = self.segmenter.resolve_vocab(vocab, mode)
        self.options = PredictOptions(
            size=size,
            stride=stride,
            batch_size=batch_size,
            k=k,
            autocast_dtype=self.segmenter.autocast_dtype,
        )
        self.keep_inputs = keep_inputs

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Segment the rows of `batch` (Ray's "numpy" batch format).

        Args:
            batch: columns of equal length, with `image` (`(H, W, 3)` arrays, or any
                `load_image` input) or `bytes` (encoded files); `path` when present.

        Returns:
            The batch (less its pixel column unless `keep_inputs`) with `labels`: `(H, W)`
            uint16, 0 = unlabeled, `i + 1` = category `i`; `categories`: JSON text, a list
            of `{"wnid", "name"}` per index `i`; `error`: "" or why the row's image could
            not be read (its `labels` are then `(0, 0)`); `path` ("" when absent).
        """
        column = next((name for name in INPUT_COLUMNS if name in batch), None)
        if column is None:
            raise InputError(
                f"the batch has columns {sorted(batch)} but no `image` or `bytes`; read the "
                "files with ray.data.read_images or ray.data.read_binary_files"
            )
        rows = len(batch[column])
        paths = [str(p) for p in batch["path"]] if "path" in batch else [""] * rows
        images: list[np.ndarray | None] = []
        errors: list[str] = []
        for index, (value, path) in enumerate(zip(batch[column], paths, strict=True)):
            try:
                images.append(load_image(value, name=path or f"row {index}"))
                errors.append("")
            except ImageError as err:
                images.append(None)
                errors.append(str(err))
        labels, categories = self._segment(images)
        out = {name: values for name, values in batch.items() if self.keep_inputs or name != column}
        return out | {
            "labels": _object_array(labels),
            "categories": np.array(categories, dtype=object),
            "error": np.array(errors, dtype=object),
            "path": np.array(paths, dtype=object),
        }

    def _segment(self, images: list[np.ndarray | None]) -> tuple[list[np.ndarray], list[str]]:
        """uint16 label maps and category JSON per row (empty for a row without image)."""
        ready = [image for image in images if image is not None]
        predictions = iter(
            predict_labels(self.segmenter.model, ready, self.assignment, self.options)
            if ready
            else []
        )
        labels: list[np.ndarray] = []
        categories: list[str] = []
        for image in images:
            if image is None:
                labels.append(np.zeros((0, 0), dtype=np.uint16))
                categories.append("[]")
                continue
            item_labels, scores = next(predictions)
            result = Segmentation.from_items(
                item_labels, scores, self.items, image, self.segmenter.vocabulary
            )
            labels.append((result.labels + 1).astype(np.uint16))
            names = [{"wnid": c.wnid, "name": c.name} for c in result.categories]
            categories.append(json.dumps(names, ensure_ascii=False))
        return labels, categories


def _object_array(arrays: list[np.ndarray]) -> np.ndarray:
    """A 1-d object array holding `arrays` as they are (no stacking of equal shapes)."""
    out = np.empty(len(arrays), dtype=object)
    for i, array in enumerate(arrays):
        out[i] = array
    return out
