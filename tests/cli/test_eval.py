"""`larvseg eval` on small trees in each benchmark's downloaded layout, with known answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from larvseg.cli.main import main
from larvseg.modeling.model import LarvSegModel
from larvseg.vocab.benchmarks import classes

ANIMAL, WALL, DOG = "n00015388", "n04546855", "n02084071"


@pytest.fixture()
def dog_model(dog_everywhere: LarvSegModel, tmp_path: Path) -> str:
    """The saved `dog_everywhere` model (predicts dog at every pixel)."""
    dog_everywhere.save_pretrained(tmp_path / "model")
    return str(tmp_path / "model")


def blocks(rows: list[list[int]]) -> np.ndarray:
    return np.repeat(np.repeat(np.array(rows), 16, axis=0), 16, axis=1)


def test_ade150_with_the_paper_split(
    dog_model: str,
    benchmark_tree: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Dog everywhere is ADE-150's "animal" (its closest class above dog) everywhere:
    IoU(animal) = animal pixels / labelled pixels, IoU(wall) = 0; wall is a COCO-Stuff
    class (base), animal is not (novel)."""
    maps = [blocks([[127, 1, 0], [127, 127, 1]]), blocks([[1, 0], [127, 0]])]  # 127: animal
    root = benchmark_tree(tmp_path / "data", "ade-150", maps)
    argv = ["eval", "--dataset", "ade-150", "--root", str(root), "--model", dog_model]
    assert main(argv) == 2  # 147 classes cover none of the 5 categories
    assert "--allow-uncovered" in capsys.readouterr().err
    out = tmp_path / "ade150.json"
    assert main([*argv, "--allow-uncovered", "--json", str(out), "--size", "64"]) == 0
    printed = capsys.readouterr().out
    animal, wall = 3 + 1, 2 + 1  # blocks of each class
    share = animal / (animal + wall)
    result = json.loads(out.read_text())["ade-150"]
    rows = {row["wnid"]: row for row in result["per_class"]}
    assert rows[ANIMAL]["iou"] == pytest.approx(share) and rows[ANIMAL]["accuracy"] == 1.0
    assert rows[WALL]["iou"] == 0.0 and rows[WALL]["base"] and not rows[ANIMAL]["base"]
    assert sum(row["iou"] is not None for row in rows.values()) == 2
    assert result["miou"] == pytest.approx(share / 2)
    assert (result["miou_base"], result["miou_novel"]) == (0.0, pytest.approx(share))
    assert result["pixel_accuracy"] == pytest.approx(share)
    assert result["images"] == 2 and len(result["uncovered"]) == 147
    assert "coco-stuff-171 classes (by wnid" in result["split"]
    assert np.array(result["confusion"]).sum() == 16 * 16 * (animal + wall)
    assert printed.startswith(f"evaluation of ade-150: mIoU {100 * share / 2:.2f}% | base 0.00%")
    assert "2 images in" in printed and "images/s" in printed and f"wrote {out}" in printed


def test_ade847_on_real_full_ade20k_scenes(
    dog_model: str, ade847_tree: Path, tmp_path: Path, wordnet: Any
) -> None:
    """No dog in the street scenes: every labelled pixel is wrong, so every defined IoU
    is 0; names are nltk's synset names, as the benchmark map lists them."""
    out = tmp_path / "a847.json"
    argv = ["eval", "--dataset", "ade-847", "--root", str(ade847_tree), "--model", dog_model]
    assert main([*argv, "--allow-uncovered", "--size", "64", "--json", str(out)]) == 0
    result = json.loads(out.read_text())["ade-847"]
    synsets = {c.wnid: c.synset for c in classes("ade-847")}
    assert [row["name"] for row in result["per_class"]] == [
        synsets[row["wnid"]] for row in result["per_class"]
    ]
    defined = [row for row in result["per_class"] if row["iou"] is not None]
    assert len(defined) > 2 and {row["iou"] for row in defined} == {0.0}
    dog = next(row for row in result["per_class"] if row["wnid"] == DOG)
    assert dog["pixels"] == 0 and dog["iou"] == 0.0  # predicted, never true
    assert result["pixel_accuracy"] == 0.0 and result["images"] == 3


def test_base_classes_option_and_data_root_env(
    dog_model: str,
    benchmark_tree: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = benchmark_tree(tmp_path / "data", "coco-stuff-171", [blocks([[17, 0], [255, 17]])])
    (tmp_path / "base.txt").write_text(f"{DOG}\n", encoding="utf-8")
    argv = ["eval", "--dataset", "coco-stuff-171", "--model", dog_model, "--allow-uncovered"]
    monkeypatch.delenv("LARVSEG_DATA", raising=False)
    assert main(argv) == 2
    assert "give --root (the coco_stuff164k folder) or set $LARVSEG_DATA" in capsys.readouterr().err
    monkeypatch.setenv("LARVSEG_DATA", str(root))
    out = tmp_path / "coco.json"
    base = ["--base-classes", str(tmp_path / "base.txt"), "--json", str(out), "--size", "64"]
    assert main([*argv, *base]) == 0
    result = json.loads(out.read_text())["coco-stuff-171"]
    assert result["split"] == f"base classes named by --base-classes ({tmp_path / 'base.txt'})"
    rows = {row["wnid"]: row for row in result["per_class"]}
    assert [w for w, row in rows.items() if row["base"]] == [DOG]
    assert rows[DOG]["iou"] == pytest.approx(2 / 3)  # 2 dog blocks, 1 person block
    assert (result["miou_base"], result["miou_novel"]) == (pytest.approx(2 / 3), 0.0)


def test_the_papers_base_classes(
    dog_model: str,
    benchmark_tree: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Sofa is base for larvseg (COCO-Stuff's couch is sofa.n.01) but novel for the paper
    (no COCO name is "sofa"); wall is base for both, animal novel for both."""
    sofa, animal, wall = 23, 126, 0
    maps = [blocks([[sofa + 1, animal + 1], [wall + 1, 0]])]
    root = benchmark_tree(tmp_path / "data", "ade-150", maps)
    argv = ["eval", "--dataset", "ade-150", "--root", str(root), "--model", dog_model]
    argv += ["--allow-uncovered", "--size", "64"]
    flags = {}
    for split in ("default", "paper", "paper:ade-150"):
        out = tmp_path / f"{split}.json"
        extra = [] if split == "default" else ["--base-classes", split]
        assert main([*argv, *extra, "--json", str(out)]) == 0
        result = json.loads(out.read_text())["ade-150"]
        rows = {row["wnid"]: row["base"] for row in result["per_class"]}
        flags[split] = [rows[classes("ade-150")[v].wnid] for v in (sofa, animal, wall)]
        if split != "default":
            assert "the ade-150 classes the paper counts base" in result["split"]
            assert sum(rows.values()) == 63
    assert flags == {
        "default": [True, False, True],
        "paper": [False, False, True],
        "paper:ade-150": [False, False, True],
    }
    capsys.readouterr()
    assert main([*argv, "--base-classes", "paper:coco-stuff-171"]) == 2
    assert "the paper has no class sets of 'coco-stuff-171'" in capsys.readouterr().err


def test_preselect_keeps_the_answer_when_the_top_class_wins_everywhere(
    dog_model: str, benchmark_tree: Callable[..., Path], tmp_path: Path
) -> None:
    """Dog is also the image-level top class of `dog_everywhere`: `--preselect 1` scores the
    same as all classes competing."""
    maps = [blocks([[127, 1, 0], [127, 127, 1]])]
    root = benchmark_tree(tmp_path / "data", "ade-150", maps)
    argv = ["eval", "--dataset", "ade-150", "--root", str(root), "--model", dog_model]
    argv += ["--allow-uncovered", "--size", "64"]
    scores = []
    for extra in ([], ["--preselect", "1"]):
        out = tmp_path / f"scores{len(extra)}.json"
        assert main([*argv, *extra, "--json", str(out)]) == 0
        scores.append(json.loads(out.read_text())["ade-150"]["confusion"])
    assert scores[0] == scores[1] and np.array(scores[0]).sum() == 16 * 16 * 5  # 0 is unlabelled
