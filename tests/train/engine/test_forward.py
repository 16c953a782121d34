"""Class sampling of the multi-source forward pass (present classes kept, targets remapped)."""

from __future__ import annotations

import pytest
import torch

from larvseg.evaluation.labelmaps import IGNORE_INDEX
from larvseg.train.engine.forward import SourceSpec, sample_classes


@pytest.mark.parametrize("kind", ["segmentation", "multilabel"])
def test_class_sampling_keeps_present_classes_and_remaps_targets(kind: str) -> None:
    spec = SourceSpec("s", kind, torch.arange(50) + 7, 1.0, 0.1, sample=True)
    if kind == "segmentation":
        batch = {"target": torch.tensor([[[3, 40], [IGNORE_INDEX, 3]]])}
        key, present = "target", [3, 40]
    else:
        batch = {"labels": torch.tensor([[12, 30, -1], [30, -1, -1]])}
        key, present = "labels", [12, 30]
    local, out = sample_classes(batch, spec, 5, torch.Generator().manual_seed(0))
    assert local.numel() == len(present) + 5 and local.unique().numel() == local.numel()
    assert local[: len(present)].tolist() == present
    original, remapped = batch[key], out[key]
    valid = original >= 0
    assert torch.equal(local[remapped[valid]], original[valid])
    assert torch.equal(remapped[~valid], original[~valid])
    assert (remapped[~valid] == -1).all() and valid.sum() < original.numel()
