"""Decoding files in DataLoader workers: the same inputs as in-process, errors as records."""

from __future__ import annotations

from pathlib import Path

import torch

from larvseg.config import IMAGENET_MEAN, IMAGENET_STD
from larvseg.pipeline.image import ImageFile, load_image
from larvseg.pipeline.loader import FailedImage, LoadedImage, load_batches
from larvseg.pipeline.preprocess import InputTransform


def test_workers_decode_what_the_process_would_and_report_bad_files(
    real_images: list[Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    files = [ImageFile(p, p.stem) for p in (real_images[0], broken, real_images[1])]
    transform = InputTransform(64, 16, IMAGENET_MEAN, IMAGENET_STD)
    batches = list(load_batches(files, transform, images_per_batch=2, num_workers=2))
    assert [len(b) for b in batches] == [2, 1]
    first, failed, last = (item for batch in batches for item in batch)
    assert isinstance(failed, FailedImage) and failed.file.path == broken
    assert failed.error.startswith("not an image Pillow can read")  # the record names the file
    for item, path in ((first, real_images[0]), (last, real_images[1])):
        assert isinstance(item, LoadedImage) and item.file.path == path
        image = load_image(path)
        assert (item.image == image).all()
        assert torch.equal(item.input, transform(image))
        assert min(item.input.shape[1:]) == 64
