"""Class maps through `segment()`'s pipeline; classes that cover no model category; names."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from larvseg.errors import EvaluationError
from larvseg.evaluation.predict import ClassPredictor, PredictOptions
from larvseg.modeling.model import LarvSegModel
from larvseg.segmenter import LarvSeg

DOG, SCOOTER = "n02084071", "n03791053"  # categories of `cosine_model`
ANIMAL = "n00015388"  # animal.n.01: covers dog, cat and bird
SKY = "n09436708"  # in the packaged table, no category of `cosine_model` under it
CYCLIST = "n09986189"  # cyclist.n.01: outside the packaged table


@pytest.mark.parametrize("k", [8, None])
def test_prediction_equals_segment_pixel_for_pixel(
    cosine_model: LarvSegModel, real_images: list[Path], k: int | None
) -> None:
    """The evaluation's class map is `segment(image, vocab=classes)` mapped to class indices."""
    classes = [SCOOTER, ANIMAL, "n12102133"]  # a parent class among them
    predictor = ClassPredictor(cosine_model, classes, PredictOptions(k=k))
    segmenter = LarvSeg(cosine_model, device="cpu")
    for path in real_images[:4]:
        seg = segmenter.segment(path, vocab=classes, size=64, k=k or 5)
        index = np.array([classes.index(c.wnid) for c in seg.categories])
        assert np.array_equal(predictor(seg.image), index[seg.labels])


def test_uncovered_classes_stop_by_default_and_are_never_predicted_when_allowed(
    cosine_model: LarvSegModel, real_images: list[Path]
) -> None:
    with pytest.raises(EvaluationError, match=r"'ade'.*1 of its 3 classes.*sky.n.01 \(n09436708"):
        ClassPredictor(cosine_model, [DOG, SKY, ANIMAL], source="ade")
    with pytest.raises(EvaluationError, match="evaluate a model trained with these classes"):
        ClassPredictor(cosine_model, [SKY], allow_uncovered=True)
    allowed = ClassPredictor(cosine_model, [DOG, SKY, ANIMAL], allow_uncovered=True)
    without = ClassPredictor(cosine_model, [DOG, ANIMAL])
    assert allowed.uncovered == [SKY] and without.uncovered == []
    assert allowed.names == ["dog.n.01", "sky.n.01", "animal.n.01"]
    seen = set()
    for path in real_images[:3]:
        image = LarvSeg(cosine_model, device="cpu").segment(path, size=64).image
        labels = allowed(image)
        assert np.array_equal(labels, np.array([0, 2])[without(image)])  # sky: never
        seen.update(np.unique(labels).tolist())
    assert seen <= {0, 2}


def test_names_outside_the_packaged_table_come_from_nltk(
    wordnet: Any,
    cosine_model: LarvSegModel,
    tiny_cosine_config: Callable[..., Any],
) -> None:
    uncovered = ClassPredictor(cosine_model, [DOG, CYCLIST], allow_uncovered=True)
    assert uncovered.names == ["dog.n.01", "cyclist.n.01"] and uncovered.uncovered == [CYCLIST]
    trained = LarvSegModel(tiny_cosine_config([DOG, CYCLIST])).eval()  # a class outside it
    covered = ClassPredictor(trained, [CYCLIST, DOG])
    assert covered.names == ["cyclist.n.01", "dog.n.01"] and covered.uncovered == []


def test_names_without_nltk_come_from_the_packaged_tables(
    cosine_model: LarvSegModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nltk", None)  # any import of nltk fails
    predictor = ClassPredictor(cosine_model, [DOG, CYCLIST], allow_uncovered=True)
    assert predictor.names == ["dog.n.01", "cyclist.n.01"] and predictor.uncovered == [CYCLIST]
