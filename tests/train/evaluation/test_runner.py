"""Evaluation: confusion matrix and mIoU by hand, end to end on a tiny cosine model."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from larvseg.classifier import CosineClassifier
from larvseg.config import IMAGENET_MEAN as MEAN
from larvseg.config import IMAGENET_STD as STD
from larvseg.model import LarvSegModel
from larvseg.train.cli import main
from larvseg.train.config import TrainConfig
from larvseg.train.data import DataSourceConfig
from larvseg.train.evaluate import (
    EvaluationError,
    evaluate,
    predict,
    run_evaluation,
    upsampled_argmax,
)
from larvseg.train.metrics import ConfusionMatrix, EvalResult
from larvseg.train.transforms import IGNORE_INDEX, to_tensor

WNIDS = ["n02084071", "n02121808", "n01503061", "n03791053", "n12102133"]  # as `cosine_model`

# 3 classes on a 4x4 map; -1 (IGNORE_INDEX) = ignore.
TARGET = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, -1, -1], [2, 2, 2, 2]])
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


def make_images(seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """Two normalised images of different sizes and their label maps over 3 classes."""
    rng = np.random.default_rng(seed)
    items = []
    for h, w in [(40, 56), (72, 48)]:
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        target = rng.integers(0, 3, (h, w))
        target[:3] = IGNORE_INDEX
        items.append({"image": to_tensor(pixels, MEAN, STD), "target": torch.from_numpy(target)})
    return items


def make_constant(model: LarvSegModel) -> None:
    """Every backbone feature equal to one vector `b`, and class 0 ("dog") embedded as
    `b Pp` (cosine 1): the model predicts dog everywhere."""
    norm, classifier = model.backbone.vit.norm, model.classifier
    assert isinstance(norm, nn.LayerNorm) and isinstance(classifier, CosineClassifier)
    torch.manual_seed(1)
    with torch.no_grad():
        norm.weight.zero_()
        norm.bias.copy_(torch.randn(32))
        classifier.class_proj.copy_(torch.eye(16))
        classifier.class_embed[0] = norm.bias @ classifier.patch_proj


def test_predict_matches_direct_forward(cosine_model: LarvSegModel) -> None:
    class_ids = torch.tensor([3, 0, 1])
    item = make_images()[0]
    size = (int(item["target"].shape[0]), int(item["target"].shape[1]))
    for full in (False, True):
        pred = predict(
            cosine_model,
            item["image"],
            size,
            class_ids,
            short_side=64,
            window=128,
            full_vocabulary=full,
        )
        x = F.interpolate(item["image"][None], (64, 96), mode="bilinear", align_corners=False)
        with torch.no_grad():
            logits = cosine_model(x)[:, class_ids] if full else cosine_model(x, class_ids)
        up = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        assert torch.equal(pred, up[0].argmax(0))


def test_evaluate_constant_prediction(cosine_model: LarvSegModel) -> None:
    """The model predicts dog everywhere, so IoU(dog) = dog pixels / counted pixels."""
    make_constant(cosine_model)
    data: list[dict[str, torch.Tensor] | None] = [*make_images(), None]  # None: unreadable
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
    targets = torch.cat([d["target"][d["target"] != IGNORE_INDEX] for d in data if d is not None])
    counts = torch.bincount(targets, minlength=3).tolist()
    dog = counts[1] / sum(counts)
    assert [row.wnid for row in result.per_class] == ["n02121808", "n02084071", "n01503061"]
    assert [row.iou for row in result.per_class] == pytest.approx([0.0, dog, 0.0])
    assert [row.base for row in result.per_class] == [True, True, False]
    assert [row.name for row in result.per_class] == ["domestic_cat.n.01", "dog.n.01", "bird.n.01"]
    assert [row.pixels for row in result.per_class] == counts
    assert result.miou == pytest.approx(dog / 3)
    assert result.miou_base == pytest.approx(dog / 2)
    assert result.miou_novel == 0.0
    assert result.pixel_accuracy == pytest.approx(dog)
    assert result.skipped == 1 and "1 unreadable images skipped" in result.format_table()


def test_evaluate_rejects_bad_inputs(cosine_model: LarvSegModel) -> None:
    data = make_images()
    with pytest.raises(EvaluationError, match="class_ids must lie"):
        evaluate(cosine_model, data, torch.tensor([0, 7]), set(), progress=False)
    with pytest.raises(EvaluationError, match="base has 2 flags for 3"):
        evaluate(cosine_model, data, torch.tensor([0, 1, 2]), [True, False], progress=False)
    with pytest.raises(EvaluationError, match="window 100 is not a multiple of the patch 16"):
        evaluate(cosine_model, data, torch.tensor([0]), set(), window=100, progress=False)


def write_source(root: Path, classes: list[str]) -> dict[str, Any]:
    """A segmentation source on disk: 2 PNG images and label maps (0 = ignore, reduced)."""
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a": (40, 56), "b": (72, 48)}.items():
        (root / "img").mkdir(parents=True, exist_ok=True)
        (root / "ann").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            root / "img" / f"{name}.png"
        )
        labels = rng.integers(0, len(classes) + 1, (h, w)).astype(np.uint8)
        Image.fromarray(labels, mode="L").save(root / "ann" / f"{name}.png")
    return {
        "name": root.name,
        "kind": "segmentation",
        "images": str(root / "img"),
        "annotations": str(root / "ann"),
        "classes": classes,
        "reduce_zero_label": True,
        "image_suffix": ".png",
    }


def test_run_evaluation(cosine_model: LarvSegModel, tmp_path: Path) -> None:
    make_constant(cosine_model)
    cosine_model.save_pretrained(tmp_path / "model")
    train = write_source(tmp_path / "coco", ["n02084071", "n02121808"])  # dog, cat: base
    test = write_source(tmp_path / "ade", ["n01503061", "n02084071"])  # bird (novel), dog
    config = TrainConfig.from_dict({"data": {"sources": [train]}, "output_dir": str(tmp_path)})
    report = run_evaluation(
        config,
        None,
        sources=[DataSourceConfig(**test)],
        short_side=64,
        window=64,
        progress=False,
    )
    (result,) = report.results
    assert result.dataset == "ade"
    assert [(r.wnid, r.base) for r in result.per_class] == [
        ("n01503061", False),
        ("n02084071", True),
    ]
    bird, dog = (r.pixels for r in result.per_class)
    assert result.per_class[1].iou == pytest.approx(dog / (bird + dog))
    assert result.miou_novel == 0.0 and result.miou_base == pytest.approx(dog / (bird + dog))
    assert json.loads(report.to_json())["ade"]["miou_novel"] == 0.0
    assert str(report).startswith("evaluation of ade: mIoU")
    default = run_evaluation(config, str(tmp_path / "model"), short_side=64, progress=False)
    assert [r.dataset for r in default.results] == ["coco"]
    assert default.results[0].miou_novel is None


def test_run_evaluation_names_missing_classes(cosine_model: LarvSegModel, tmp_path: Path) -> None:
    cosine_model.save_pretrained(tmp_path / "model")
    test = write_source(tmp_path / "ade", ["n02084071", "n04576211"])
    config = TrainConfig.from_dict({"data": {"sources": [test]}})
    with pytest.raises(EvaluationError, match=r"'ade'.*n04576211"):
        run_evaluation(config, str(tmp_path / "model"), progress=False)


def test_eval_only_command(
    cosine_model: LarvSegModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cosine_model.save_pretrained(tmp_path / "model")
    source = write_source(tmp_path / "coco", ["n02084071", "n02121808"])
    (tmp_path / "run.yaml").write_text(json.dumps({"data": {"sources": [source]}}))
    argv = ["--config", str(tmp_path / "run.yaml"), "--eval-only"]
    assert main([*argv, "--checkpoint", str(tmp_path / "model")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("evaluation of coco: mIoU") and "dog.n.01" in out
    assert main([*argv, "--checkpoint", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
