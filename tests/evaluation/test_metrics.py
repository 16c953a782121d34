"""Confusion matrix, mIoU all / base / novel and accuracies, computed by hand; the JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from larvseg.evaluation.metrics import ConfusionMatrix, EvalResult

WNIDS = ["n02084071", "n02121808", "n01503061", "n03791053", "n12102133"]  # as `cosine_model`

# 3 classes on a 4x4 map; -1 (IGNORE_INDEX) = ignore.
TARGET = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, -1, -1], [2, 2, 2, 2]])
PRED = np.array([[0, 1, 1, 1], [0, 0, 1, 0], [2, 1, 0, 2], [2, 2, 2, 2]])
# By hand (row = truth, column = prediction), the two ignored pixels not counted:
#   truth 0: 3 -> 0, 1 -> 1        truth 1: 3 -> 1, 1 -> 0        truth 2: 5 -> 2, 1 -> 1
# IoU0 = 3 / (4 + 4 - 3) = 3/5;  IoU1 = 3 / (4 + 5 - 3) = 1/2;  IoU2 = 5 / (6 + 5 - 5) = 5/6
IOU = [3 / 5, 1 / 2, 5 / 6]
ACCURACY = [3 / 4, 3 / 4, 5 / 6]  # diagonal / row sums


def test_confusion_matrix_by_hand() -> None:
    cm = ConfusionMatrix(3)
    cm.update(PRED, torch.from_numpy(TARGET))
    assert cm.matrix.tolist() == [[3, 1, 0], [1, 3, 0], [0, 1, 5]]
    np.testing.assert_allclose(cm.iou(), IOU)
    assert cm.pixel_accuracy() == pytest.approx(11 / 14)
    assert cm.target_pixels().tolist() == [4, 4, 6]
    np.testing.assert_allclose(cm.accuracy(), ACCURACY)


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
    pred[2, 2:] = 99  # out of range, but the truth there is ignored (-1)
    cm = ConfusionMatrix(3)
    cm.update(pred, TARGET)
    np.testing.assert_allclose(cm.iou(), IOU)
    cm = ConfusionMatrix(3, ignore_index=255)
    with pytest.raises(ValueError, match="target has value -1"):
        cm.update(PRED, TARGET)
    with pytest.raises(ValueError, match="differs from target shape"):
        cm.update(PRED[:3], TARGET)


def test_table_and_json() -> None:
    cm = ConfusionMatrix(4)
    cm.update(PRED, TARGET)
    result = EvalResult.from_confusion(
        cm,
        WNIDS[:4],
        [True, True, False, False],
        ["dog.n.01", "", "bird.n.01", "motor_scooter.n.01"],
        dataset="toy",
        split="base classes named by a test",
        uncovered=[WNIDS[3]],
        images=2,
        skipped=1,
        seconds=4.0,
    )
    table = result.format_table()
    assert "mIoU 64.44% | base 55.00% | novel 83.33%" in table  # the JSON's 0.6444...
    assert "base / novel: base classes named by a test" in table
    assert "2 images in 4.0 s (0.50 images/s), 1 images skipped" in table
    assert "* 1 classes cover no model category" in table
    last = table.splitlines()[-1].split()
    assert last[:3] == [WNIDS[3], "motor_scooter.n.01", "novel*"]
    assert last[3:5] == ["-", "-"]  # class 3: IoU and accuracy undefined
    assert table.splitlines()[-3].split()[:2] == [WNIDS[1], WNIDS[1]]  # no name: the wnid
    assert str(result) == table


def test_json_schema() -> None:
    """Every field, fractions in [0, 1], None for undefined values, the matrix as rows."""
    cm = ConfusionMatrix(4)
    cm.update(PRED, TARGET)
    result = EvalResult.from_confusion(
        cm, WNIDS[:4], [True, True, False, False], dataset="toy", split="s", images=1
    )
    data = json.loads(result.to_json())
    assert set(data) == {
        "dataset",
        "miou",
        "miou_base",
        "miou_novel",
        "pixel_accuracy",
        "split",
        "uncovered",
        "images",
        "skipped",
        "skipped_files",
        "seconds",
        "per_class",
        "confusion",
    }
    assert data["miou_novel"] == pytest.approx(5 / 6)
    assert data["pixel_accuracy"] == pytest.approx(11 / 14)
    assert data["confusion"] == [[3, 1, 0, 0], [1, 3, 0, 0], [0, 1, 5, 0], [0, 0, 0, 0]]
    rows = data["per_class"]
    assert [set(row) for row in rows] == [{"wnid", "name", "base", "iou", "accuracy", "pixels"}] * 4
    assert [row["name"] for row in rows] == WNIDS[:4]  # no names given: the wnids
    assert [row["iou"] for row in rows[:3]] == pytest.approx(IOU)
    assert [row["accuracy"] for row in rows[:3]] == pytest.approx(ACCURACY)
    assert rows[3]["iou"] is None and rows[3]["accuracy"] is None
    assert [row["pixels"] for row in rows] == [4, 4, 6, 0]
    assert data["uncovered"] == [] and data["images"] == 1
