"""Image-level preselection: only the top-K image-level classes compete at each location."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from larvseg.errors import InputError
from larvseg.modeling.model import LarvSegModel
from larvseg.pipeline.labeling import assign_items
from larvseg.pipeline.predict import PredictOptions, input_transform, predict_labels
from larvseg.pipeline.windows import preselected_window_logits
from larvseg.result import Segmentation
from larvseg.segmenter import LarvSeg
from larvseg.vocab.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def segmenter(timm_checkpoint: Path) -> LarvSeg:
    """The tiny 1000-class timm ViT (class token) as a segmenter."""
    return LarvSeg.from_pretrained(timm_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (80, 120, 3), dtype=np.uint8)


def _model_classes(segmenter: LarvSeg, result: Segmentation) -> np.ndarray:
    """The result's labels as model class indices (-1 stays -1)."""
    index = {wnid: i for i, wnid in enumerate(segmenter.model.config.categories)}
    lookup = np.array([index[c.wnid] for c in result.categories] + [-1])
    return lookup[result.labels]


def _image_top(
    model: LarvSegModel, photo: np.ndarray, k: int, among: torch.Tensor | None = None
) -> set[int]:
    """The top-k classes of the image logits of each 64-pixel window, united."""
    x = input_transform(model, 64)(photo)[None]
    ((_, classes),) = preselected_window_logits(model, [x], 64, k, keep=among)
    return set(classes.tolist())


def test_classify_of_a_subset_is_those_columns(segmenter: LarvSeg) -> None:
    model = segmenter.model
    grid = model.features(torch.randn(2, 3, 48, 64)).grid
    classes = torch.tensor([7, 3, 999])
    with torch.no_grad():
        torch.testing.assert_close(
            model.classify(grid, classes), model.classify(grid)[:, classes], atol=1e-6, rtol=0
        )


def test_top_one_class_takes_every_pixel_in_closed_mode(
    segmenter: LarvSeg, photo: np.ndarray
) -> None:
    model = segmenter.model
    x = input_transform(model, 64)(photo)[None]  # 64 x 96: two 64-pixel windows
    with torch.no_grad():
        windows = [x[..., :64, :64], x[..., :64, 32:96]]
        tops = {int(model.image_logits(model.features(w)).argmax()) for w in windows}
    result = segmenter.segment(photo, size=64, preselect=1)
    assert set(np.unique(_model_classes(segmenter, result)).tolist()) <= tops
    assert result.labels.shape == (80, 120)


def test_preselecting_every_class_changes_nothing(segmenter: LarvSeg, photo: np.ndarray) -> None:
    plain = segmenter.segment(photo, size=64)
    every = segmenter.segment(photo, size=64, preselect=1000)
    assert np.array_equal(plain.labels, every.labels)
    np.testing.assert_allclose(plain.scores, every.scores, atol=1e-5)


def test_preselected_classes_win_where_they_won_and_open_mode_unlabels_the_rest(
    segmenter: LarvSeg, photo: np.ndarray
) -> None:
    chosen = _image_top(segmenter.model, photo, 3)
    plain = _model_classes(segmenter, segmenter.segment(photo, size=64, mode="open"))
    opened = segmenter.segment(photo, size=64, mode="open", preselect=3)
    opened_classes = _model_classes(segmenter, opened)
    won = np.isin(plain, list(chosen))
    assert won.any() and not won.all()
    assert np.array_equal(opened_classes[won], plain[won])
    assert (opened_classes[~won] == -1).all()
    closed = _model_classes(segmenter, segmenter.segment(photo, size=64, preselect=3))
    assert np.array_equal(closed[won], plain[won])
    assert set(np.unique(closed).tolist()) <= chosen


def test_preselection_among_a_vocabulary(segmenter: LarvSeg, photo: np.ndarray) -> None:
    vocab = ["n01440764", "n01443537", "n01484850", "n01491361"]  # four fish classes
    top = _image_top(segmenter.model, photo, 2, among=torch.arange(4))  # the fish are 0-3
    result = segmenter.segment(photo, vocab=vocab, size=64, preselect=2)
    assert {vocab.index(c.wnid) for c in result.categories} <= top <= {0, 1, 2, 3}


def test_preselect_must_be_positive(segmenter: LarvSeg, photo: np.ndarray) -> None:
    items, _ = assign_items(Vocabulary(segmenter.model.config.categories), None)
    with pytest.raises(InputError, match="preselect=0 must be a positive whole number"):
        predict_labels(segmenter.model, [photo], items, PredictOptions(size=64, preselect=0))
