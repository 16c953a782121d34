"""Image files -> model inputs in DataLoader worker processes, while the model runs.

Each worker decodes a file (`load_image`), resizes and normalises it
(`InputTransform`); a file that cannot be read comes back as a `FailedImage` instead
of stopping the loader.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import ImageError
from .image import ImageFile, load_image
from .preprocess import InputTransform


@dataclass(frozen=True)
class LoadedImage:
    """A decoded file: the pixels `(H, W, 3)` uint8 and the model input `(3, H', W')` float32."""

    file: ImageFile
    image: np.ndarray
    input: torch.Tensor


@dataclass(frozen=True)
class FailedImage:
    """A file that could not be read, and why (the reason, without the file's path)."""

    file: ImageFile
    error: str


class ImageFileDataset(Dataset[LoadedImage | FailedImage]):
    """`dataset[i]`: file `i` decoded and transformed (an error record if unreadable)."""

    def __init__(self, files: Sequence[ImageFile], transform: InputTransform) -> None:
        self.files = list(files)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> LoadedImage | FailedImage:
        file = self.files[index]
        try:
            image = load_image(file.path)
        except ImageError as err:  # the reason alone: the record names the file already
            return FailedImage(file, str(err).removeprefix(f"{file.path}: "))
        return LoadedImage(file, image, self.transform(image))


def load_batches(
    files: Sequence[ImageFile],
    transform: InputTransform,
    *,
    images_per_batch: int,
    num_workers: int,
) -> Iterable[list[LoadedImage | FailedImage]]:
    """The files in order, `images_per_batch` at a time, decoded by `num_workers` worker
    processes ahead of the consumer (0 = in this process)."""
    return DataLoader(
        ImageFileDataset(files, transform),
        batch_size=images_per_batch,
        num_workers=num_workers,
        collate_fn=list,
        prefetch_factor=2 if num_workers else None,
    )
