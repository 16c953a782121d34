"""`evaluate` end to end on a tiny cosine model: known IoUs, the split, names, the JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from larvseg.errors import EvaluationError, InputError
from larvseg.evaluation.labelmaps import IGNORE_INDEX
from larvseg.evaluation.predict import PredictOptions
from larvseg.evaluation.runner import BaseClasses, EvalReport, _read_ahead, evaluate
from larvseg.modeling.model import LarvSegModel

DOG, CAT, BIRD, SCOOTER = "n02084071", "n02121808", "n01503061", "n03791053"  # `cosine_model`
ANIMAL = "n00015388"  # animal.n.01: covers dog, cat and bird
CYCLIST = "n09986189"  # cyclist.n.01: outside the packaged table


def counted(items: list[Any]) -> np.ndarray:
    return np.concatenate([t[t != IGNORE_INDEX] for _, t in items])


def test_parent_class_covers_its_hyponyms(
    dog_everywhere: LarvSegModel, in_memory: Callable[..., Any], random_items: Callable[..., Any]
) -> None:
    """A benchmark class that is a parent of model categories (animal) wins where dog does."""
    items = random_items(2)
    result = evaluate(
        dog_everywhere, in_memory([SCOOTER, ANIMAL], items), {SCOOTER}, progress=False
    )
    animal = float((counted(items) == 1).mean())
    assert [row.name for row in result.per_class] == ["motor_scooter.n.01", "animal.n.01"]
    assert [row.iou for row in result.per_class] == pytest.approx([0.0, animal])
    assert [row.accuracy for row in result.per_class] == pytest.approx([0.0, 1.0])
    assert result.pixel_accuracy == pytest.approx(animal)


@pytest.mark.parametrize("readers", [0, 2])
def test_evaluate_constant_prediction(
    dog_everywhere: LarvSegModel,
    in_memory: Callable[..., Any],
    random_items: Callable[..., Any],
    readers: int,
) -> None:
    """The model predicts dog everywhere, so IoU(dog) = dog pixels / counted pixels."""
    items: list[Any] = [*random_items(3), None]  # None: unreadable
    result = evaluate(
        dog_everywhere,
        in_memory([CAT, DOG, BIRD], items),
        {CAT, DOG},
        PredictOptions(window=64, window_step=32),
        split="cat and dog are base",
        progress=False,
        readers=readers,
        name="toy",
    )
    counts = np.bincount(counted(items[:2]), minlength=3).tolist()
    dog = counts[1] / sum(counts)
    assert [row.wnid for row in result.per_class] == [CAT, DOG, BIRD]
    assert [row.iou for row in result.per_class] == pytest.approx([0.0, dog, 0.0])
    assert [row.base for row in result.per_class] == [True, True, False]
    assert [row.name for row in result.per_class] == ["domestic_cat.n.01", "dog.n.01", "bird.n.01"]
    assert [row.pixels for row in result.per_class] == counts
    assert result.confusion.tolist() == [[0, counts[0], 0], [0, counts[1], 0], [0, counts[2], 0]]
    assert result.miou == pytest.approx(dog / 3)
    assert result.miou_base == pytest.approx(dog / 2)
    assert result.miou_novel == 0.0
    assert result.pixel_accuracy == pytest.approx(dog)
    assert (result.images, result.skipped, result.split) == (2, 1, "cat and dog are base")
    assert result.seconds > 0 and "1 images skipped" in result.format_table()
    assert result.skipped_files == [
        {"path": "item 2", "reason": "a bad sample (see the warning above)"}
    ]


def test_uncovered_classes_are_scored_and_named_in_the_json(
    dog_everywhere: LarvSegModel,
    in_memory: Callable[..., Any],
    random_items: Callable[..., Any],
    tmp_path: Path,
    wordnet: Any,
) -> None:
    """cyclist (outside the packaged table, no model category under it): never predicted,
    IoU 0, named through nltk in the table and the JSON."""
    items = random_items(2)
    data = in_memory([DOG, CYCLIST], items)
    with pytest.raises(EvaluationError, match=r"cyclist.n.01 \(n09986189\).*allow_uncovered"):
        evaluate(dog_everywhere, data, {DOG}, progress=False)
    result = evaluate(dog_everywhere, data, {DOG}, allow_uncovered=True, progress=False, name="a")
    dog = float((counted(items) == 0).mean())
    assert result.uncovered == [CYCLIST]
    assert [r.iou for r in result.per_class] == pytest.approx([dog, 0.0])
    assert "cyclist.n.01" in result.format_table() and "novel*" in result.format_table()
    written = json.loads(EvalReport([result]).write_json(tmp_path / "out" / "a.json").read_text())
    assert [row["name"] for row in written["a"]["per_class"]] == ["dog.n.01", "cyclist.n.01"]
    assert written["a"]["uncovered"] == [CYCLIST]
    assert written["a"]["confusion"] == result.confusion.tolist()


def test_evaluate_rejects_bad_inputs(
    cosine_model: LarvSegModel, in_memory: Callable[..., Any], random_items: Callable[..., Any]
) -> None:
    data = in_memory([DOG, CAT, BIRD], random_items(3))
    with pytest.raises(EvaluationError, match="base has 2 flags for 3"):
        evaluate(cosine_model, data, [True, False], progress=False)
    with pytest.raises(InputError, match=r"window=100 must be a multiple of the patch size 16"):
        evaluate(cosine_model, data, set(), PredictOptions(window=100), progress=False)
    with pytest.raises(EvaluationError, match=r"'sky'.*n09436708"):
        evaluate(cosine_model, in_memory([DOG, "n09436708"], []), set(), name="sky")


def test_read_ahead_keeps_the_order(in_memory: Callable[..., Any]) -> None:
    data = in_memory(["n1"], [(i, None) for i in range(11)])
    for readers in (0, 1, 3):
        assert [item[0] for item in _read_ahead(data, readers)] == list(range(11))


def test_base_classes_from_a_file_a_list_or_a_benchmark(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text(f"{DOG}\n-\n\n{CAT}\n{DOG}\n")
    named = BaseClasses.read(str(tmp_path / "base.txt"), "--base-classes")
    assert named.wnids == {DOG, CAT}
    assert named.rule == f"base classes named by --base-classes ({tmp_path / 'base.txt'})"
    assert BaseClasses.read([DOG, None], "data.base_classes").wnids == {DOG}
    coco = BaseClasses.read("benchmark:coco-stuff-171", "data.base_classes")
    assert len(coco.wnids) == 160 and "n00007846" in coco.wnids  # person
    for bad, message in [
        (str(tmp_path / "none.txt"), "not found"),
        ("benchmark:ade-9", "unknown benchmark map"),
        (["-"], "names no class"),
    ]:
        with pytest.raises(EvaluationError, match=message):
            BaseClasses.read(bad, "--base-classes")
