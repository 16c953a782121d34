"""The decoder's CPU output is bit for bit larvseg 0.2.0's (decoding moved onto the model's
device without changing a label or a score): the reference holds 0.2.0's labels and
scores for constructed logits and for a tiny network's logits on two real photos
(`scripts/make_decode_reference.py`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from larvseg.pipeline import labeling
from larvseg.pipeline.labeling import ItemAssignment, label_pixels

REFERENCE = np.load(Path(__file__).parent / "data" / "decode_reference.npz")
CASES = sorted({name.split("/")[0] for name in REFERENCE.files})


@pytest.mark.parametrize("case", CASES)
def test_cpu_labels_and_scores_are_bit_identical_to_0_2_0(case: str) -> None:
    num_items, height, width, k, span = (int(v) for v in REFERENCE[f"{case}/setup"])
    items = ItemAssignment(
        torch.from_numpy(REFERENCE[f"{case}/assignment"]), num_items, str(REFERENCE[f"{case}/mode"])
    )
    logits = torch.from_numpy(REFERENCE[f"{case}/logits"])
    labels, scores = label_pixels(logits, items, (height, width), None if k < 0 else k, span)
    np.testing.assert_array_equal(labels, REFERENCE[f"{case}/labels"])
    assert scores.dtype == np.float32
    assert scores.tobytes() == REFERENCE[f"{case}/scores"].tobytes()


def test_the_reference_covers_real_photos_open_mode_subsets_and_the_exact_argmax() -> None:
    assert {"photo0", "photo1", "photo0_open", "span2_open", "closed_subset", "exact"} <= set(CASES)
    assert len(np.unique(REFERENCE["photo0/labels"])) > 10  # a real decision, not one class


@pytest.mark.parametrize("case", ["photo0", "photo0_open", "closed_subset", "exact"])
def test_decoding_makes_its_tensors_on_the_logits_device(case: str) -> None:
    """With "meta" as torch's default device, any tensor the decoder made without the
    logits' device would be a meta tensor and fail against the CPU logits: the same
    output means every step ran where the logits are (on a GPU, the model's device)."""
    num_items, height, width, k, span = (int(v) for v in REFERENCE[f"{case}/setup"])
    items = ItemAssignment(
        torch.from_numpy(REFERENCE[f"{case}/assignment"]), num_items, str(REFERENCE[f"{case}/mode"])
    )
    logits = torch.from_numpy(REFERENCE[f"{case}/logits"])
    with torch.device("meta"):
        labels, scores = label_pixels(logits, items, (height, width), None if k < 0 else k, span)
    np.testing.assert_array_equal(labels, REFERENCE[f"{case}/labels"])
    assert scores.tobytes() == REFERENCE[f"{case}/scores"].tobytes()


@pytest.mark.parametrize("case", ["photo0", "photo0_open", "closed_subset"])
def test_reductions_in_bands_of_cells_change_no_bit(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The logsumexp (each class its own item) and the item masses (a vocabulary, open
    mode) run in cache-sized bands of cells; bands of a grid row and one cell, which cut
    the grid's rows, give the reference's bytes."""
    num_items, height, width, k, span = (int(v) for v in REFERENCE[f"{case}/setup"])
    items = ItemAssignment(
        torch.from_numpy(REFERENCE[f"{case}/assignment"]), num_items, str(REFERENCE[f"{case}/mode"])
    )
    logits = torch.from_numpy(REFERENCE[f"{case}/logits"])
    monkeypatch.setattr(labeling, "CELL_BAND_ELEMENTS", (logits.shape[1] + 1) * logits.shape[-1])
    labels, scores = label_pixels(logits, items, (height, width), None if k < 0 else k, span)
    np.testing.assert_array_equal(labels, REFERENCE[f"{case}/labels"])
    assert scores.tobytes() == REFERENCE[f"{case}/scores"].tobytes()
