"""Evaluation: confusion matrix and mIoU by hand, end to end on a tiny cosine model."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from larvseg.classifier import CosineClassifier
from larvseg.model import LarvSegModel
from larvseg.preprocess import normalize, resize_to_model
from larvseg.train.evaluate import EvaluationError, evaluate, predict, upsampled_argmax
from larvseg.train.metrics import ConfusionMatrix, EvalResult

WNIDS = ["n02084071", "n02121808", "n01503061", "n03791053", "n12102133"]  # as `cosine_model`

# 3 classes on a 4x4 map; 255 = ignore.
TARGET = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255], [2, 2, 2, 2]])
PRED = np.array([[0, 1, 1, 1], [0, 0, 1, 0], [2, 1, 0, 2], [2, 2, 2, 2]])
# By hand (row = truth, column = prediction), the two ignored pixels not counted:
#   truth 0: 3 -> 0, 1 -> 1        truth 1: 3 -> 1, 1 -> 0        truth 2: 5 -> 2, 1 -> 1
# IoU0 = 3 / (4 + 4 - 3) = 3/5;  IoU1 = 3 / (4 + 5 - 3) = 1/2;  IoU2 = 5 / (6 + 5 - 5) = 5/6
IOU = [3 / 5, 1 / 2, 5 / 6]


def test_confusion_matrix_by_hand() -> None:
    cm = ConfusionMatrix(3)
    cm.update(PRED, torch.from_numpy(TARGET))
    assert cm.matrix.tolist() == [[3, 1, 0], [1, 3, 0], [0, 1, 5]]
    np.testing.assert_allclose(cm.iou(), IOU)
    assert cm.pixel_accuracy() == pytest.approx(11 / 14)
    assert cm.target_pixels().tolist() == [4, 4, 6]


def test_miou_base_novel_split() -> None:
    cm = ConfusionMatrix(3)
    cm.update(PRED, TARGET)
    result = EvalResult.from_confusion(cm, WNIDS[:3], [True, True, False])
    assert result.miou == pytest.approx(sum(IOU) / 3)
    assert result.miou_base == pytest.approx((3 / 5 + 1 / 2) / 2)
    assert result.miou_novel == pytest.approx(5 / 6)
    assert result.pixel_accuracy == pytest.approx(11 / 14)
    assert [row.pixels for row in result.per_class] == [4, 4, 6]
    only_base = EvalResult.from_confusion(cm, WNIDS[:3], [True] * 3)
    assert only_base.miou_novel is None


def test_absent_class_excluded_and_false_positive_counted() -> None:
    cm = ConfusionMatrix(5)
    cm.update(PRED, TARGET)  # classes 3 and 4: neither in truth nor prediction
    result = EvalResult.from_confusion(cm, WNIDS, [True, True, False, False, False])
    assert math.isnan(result.per_class[3].iou) and math.isnan(result.per_class[4].iou)
    assert result.miou == pytest.approx(sum(IOU) / 3)
    assert result.miou_novel == pytest.approx(5 / 6)
    pred = PRED.copy()
    pred[3, 0] = 4  # class 4 predicted once, never in the truth: IoU 0, counted
    cm = ConfusionMatrix(5)
    cm.update(pred, TARGET)
    assert cm.iou()[4] == 0.0
    assert cm.iou()[2] == pytest.approx(4 / 6)
    assert EvalResult.from_confusion(cm, WNIDS, [True] * 5).miou == pytest.approx(
        (3 / 5 + 1 / 2 + 4 / 6 + 0) / 4
    )


def test_ignored_pixels_may_hold_any_prediction() -> None:
    pred = PRED.copy()
    pred[2, 2:] = 99  # out of range, but the truth there is 255
    cm = ConfusionMatrix(3)
    cm.update(pred, TARGET)
    np.testing.assert_allclose(cm.iou(), IOU)
    cm = ConfusionMatrix(3, ignore_index=-1)
    with pytest.raises(ValueError, match="target has value 255"):
        cm.update(PRED, TARGET)
    with pytest.raises(ValueError, match="differs from target shape"):
        cm.update(PRED[:3], TARGET)


def test_table_and_json() -> None:
    cm = ConfusionMatrix(4)
    cm.update(PRED, TARGET)
    result = EvalResult.from_confusion(cm, WNIDS[:4], [True, True, False, False], dataset="toy")
    table = result.format_table()
    assert "mIoU 64.44" in table and "base 55.00" in table and "novel 83.33" in table
    assert table.splitlines()[-1].split()[-2] == "-"  # class 3: IoU undefined
    data = json.loads(result.to_json())
    assert data["per_class"][3]["iou"] is None
    assert data["miou_novel"] == pytest.approx(5 / 6)
    assert str(result) == table


def test_upsampled_argmax_exact() -> None:
    torch.manual_seed(0)
    logits = torch.randn(70, 5, 7)  # more classes than one upsampling chunk
    full = F.interpolate(logits[None], size=(37, 50), mode="bilinear", align_corners=False)
    assert torch.equal(upsampled_argmax(logits, (37, 50)), full[0].argmax(0))


def make_images(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two images of different sizes and their label maps over 3 evaluated classes."""
    rng = np.random.default_rng(seed)
    items = []
    for h, w in [(40, 56), (72, 48)]:
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        target = rng.integers(0, 3, (h, w))
        target[:3] = 255
        items.append((image, target))
    return items


def test_predict_matches_direct_forward(cosine_model: LarvSegModel) -> None:
    class_ids = torch.tensor([3, 0, 1])
    image, target = make_images()[0]
    for full in (False, True):
        pred = predict(
            cosine_model,
            image,
            target.shape,
            class_ids,
            short_side=64,
            window=128,
            full_vocabulary=full,
        )
        x = normalize(
            resize_to_model(image, 64, 16), cosine_model.config.mean, cosine_model.config.std
        )
        with torch.no_grad():
            logits = cosine_model(x)[:, class_ids] if full else cosine_model(x, class_ids)
        up = F.interpolate(logits, size=target.shape, mode="bilinear", align_corners=False)
        assert torch.equal(pred, up[0].argmax(0))


def test_evaluate_constant_prediction(cosine_model: LarvSegModel) -> None:
    """Every backbone feature equal to one vector `b`, and class 0 ("dog") embedded as `b Pp`:
    the model predicts dog everywhere, so IoU(dog) = dog pixels / counted pixels."""
    norm, classifier = cosine_model.backbone.vit.norm, cosine_model.classifier
    assert isinstance(norm, nn.LayerNorm) and isinstance(classifier, CosineClassifier)
    torch.manual_seed(1)
    with torch.no_grad():
        norm.weight.zero_()
        norm.bias.copy_(torch.randn(32))
        classifier.class_proj.copy_(torch.eye(16))
        classifier.class_embed[0] = norm.bias @ classifier.patch_proj
    data = make_images()
    class_ids = torch.tensor([1, 0, 2])  # evaluated classes: cat, dog, bird
    result = evaluate(
        cosine_model,
        data,
        class_ids,
        {"n02121808", "n02084071"},
        short_side=64,
        window=64,
        stride=32,
        progress=False,
        name="toy",
    )
    targets = np.concatenate([t[t != 255] for _, t in data])
    counts = np.bincount(targets, minlength=3)
    expected = [0.0, counts[1] / counts.sum(), 0.0]
    assert [row.wnid for row in result.per_class] == ["n02121808", "n02084071", "n01503061"]
    assert [row.iou for row in result.per_class] == pytest.approx(expected)
    assert [row.base for row in result.per_class] == [True, True, False]
    assert [row.name for row in result.per_class] == ["domestic_cat.n.01", "dog.n.01", "bird.n.01"]
    assert result.miou == pytest.approx(sum(expected) / 3)
    assert result.miou_base == pytest.approx(expected[1] / 2)
    assert result.miou_novel == 0.0
    assert result.pixel_accuracy == pytest.approx(counts[1] / counts.sum())


def test_evaluate_rejects_bad_inputs(cosine_model: LarvSegModel) -> None:
    data = make_images()
    with pytest.raises(EvaluationError, match="class_ids must lie"):
        evaluate(cosine_model, data, torch.tensor([0, 7]), set(), progress=False)
    with pytest.raises(EvaluationError, match="base has 2 flags for 3"):
        evaluate(cosine_model, data, torch.tensor([0, 1, 2]), [True, False], progress=False)
