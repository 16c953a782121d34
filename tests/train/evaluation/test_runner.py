"""Evaluation end to end on a tiny cosine model: the inference pipeline, hyponym classes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from larvseg.errors import InputError
from larvseg.modeling.classifier import CosineClassifier
from larvseg.modeling.model import LarvSegModel
from larvseg.pipeline.predict import PredictOptions
from larvseg.segmenter import LarvSeg
from larvseg.train.cli import main
from larvseg.train.config import DataSourceConfig, TrainConfig
from larvseg.train.data.formats import IGNORE_INDEX
from larvseg.train.errors import EvaluationError
from larvseg.train.evaluation.predict import ClassPredictor
from larvseg.train.evaluation.runner import evaluate, run_evaluation

DOG, CAT, BIRD, SCOOTER = "n02084071", "n02121808", "n01503061", "n03791053"  # `cosine_model`
ANIMAL = "n00015388"  # animal.n.01: covers dog, cat and bird


class InMemory:
    """An `EvalDataset`: RGB images and their targets over `classes`."""

    def __init__(self, classes: list[str], items: list[Any]) -> None:
        self.classes, self.items = classes, items

    def __len__(self) -> int:
        return len(self.items)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        return self.items[index]


def make_images(num_classes: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two RGB images of different sizes and label maps over `num_classes` classes."""
    rng = np.random.default_rng(seed)
    items = []
    for h, w in [(40, 56), (72, 48)]:
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        target = rng.integers(0, num_classes, (h, w))
        target[:3] = IGNORE_INDEX
        items.append((pixels, target))
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


@pytest.mark.parametrize("k", [8, None])
def test_prediction_equals_segment_pixel_for_pixel(
    cosine_model: LarvSegModel, real_images: list[Path], k: int | None
) -> None:
    """The evaluation's class map is `segment(image, vocab=classes)` mapped to class indices."""
    classes = [SCOOTER, ANIMAL, "n12102133"]  # a parent class among them
    predictor = ClassPredictor(cosine_model, classes, PredictOptions(size=64, k=k))
    segmenter = LarvSeg(cosine_model, device="cpu")
    for path in real_images[:4]:
        seg = segmenter.segment(path, vocab=classes, size=64, k=k or 5)
        index = np.array([classes.index(c.wnid) for c in seg.categories])
        assert np.array_equal(predictor(seg.image), index[seg.labels])


def test_parent_class_covers_its_hyponyms(cosine_model: LarvSegModel) -> None:
    """A benchmark class that is a parent of model categories (animal) wins where dog does."""
    make_constant(cosine_model)
    items = make_images(2)
    result = evaluate(
        cosine_model,
        InMemory([SCOOTER, ANIMAL], items),
        {SCOOTER},
        options=PredictOptions(size=64),
        progress=False,
    )
    targets = np.concatenate([t[t != IGNORE_INDEX] for _, t in items])
    animal = float((targets == 1).mean())
    assert [row.name for row in result.per_class] == ["motor_scooter.n.01", "animal.n.01"]
    assert [row.iou for row in result.per_class] == pytest.approx([0.0, animal])
    assert result.pixel_accuracy == pytest.approx(animal)


def test_evaluate_constant_prediction(cosine_model: LarvSegModel) -> None:
    """The model predicts dog everywhere, so IoU(dog) = dog pixels / counted pixels."""
    make_constant(cosine_model)
    items: list[Any] = [*make_images(3), None]  # None: unreadable
    result = evaluate(
        cosine_model,
        InMemory([CAT, DOG, BIRD], items),
        {CAT, DOG},
        options=PredictOptions(size=64, window=64, window_step=32),
        progress=False,
        name="toy",
    )
    targets = np.concatenate([t[t != IGNORE_INDEX] for _, t in items[:2]])
    counts = np.bincount(targets, minlength=3).tolist()
    dog = counts[1] / sum(counts)
    assert [row.wnid for row in result.per_class] == [CAT, DOG, BIRD]
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
    data = InMemory([DOG, CAT, BIRD], make_images(3))
    with pytest.raises(EvaluationError, match="base has 2 flags for 3"):
        evaluate(cosine_model, data, [True, False], progress=False)
    with pytest.raises(InputError, match=r"window 100 .* multiples of the patch size 16"):
        evaluate(cosine_model, data, set(), options=PredictOptions(window=100), progress=False)
    with pytest.raises(EvaluationError, match=r"'sky'.*n09436708.*covers none"):
        evaluate(cosine_model, InMemory([DOG, "n09436708"], []), set(), name="sky")


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
        options=PredictOptions(size=64, window=64),
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
    default = run_evaluation(
        config, str(tmp_path / "model"), options=PredictOptions(size=64), progress=False
    )
    assert [r.dataset for r in default.results] == ["coco"]
    assert default.results[0].miou_novel is None


def test_run_evaluation_names_missing_classes(cosine_model: LarvSegModel, tmp_path: Path) -> None:
    cosine_model.save_pretrained(tmp_path / "model")
    test = write_source(tmp_path / "ade", ["n02084071", "n09436708"])  # dog, sky
    config = TrainConfig.from_dict({"data": {"sources": [test]}})
    with pytest.raises(EvaluationError, match=r"'ade'.*n09436708"):
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
