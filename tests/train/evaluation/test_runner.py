"""`--eval-only`: the configuration's sources, explicit or inferred base classes, warnings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

from larvseg.cli.main import main as larvseg_main
from larvseg.errors import EvaluationError
from larvseg.evaluation.labelmaps import ClassListWarning
from larvseg.modeling.model import LarvSegModel
from larvseg.train.cli import main
from larvseg.train.config import DataSourceConfig, TrainConfig
from larvseg.train.evaluation.runner import base_classes, run_evaluation

DOG, CAT, BIRD, SKY = "n02084071", "n02121808", "n01503061", "n09436708"


def write_source(root: Path, classes: list[str], values: tuple[int, ...] | None = None) -> dict:
    """A segmentation source on disk: 2 PNG images and label maps drawn from `values`
    (default every value; 0 = ignore, value v = classes[v - 1])."""
    rng = np.random.default_rng(0)
    drawn = np.array(values or range(len(classes) + 1), dtype=np.uint8)
    for name, (h, w) in {"a": (40, 56), "b": (72, 48)}.items():
        (root / "img").mkdir(parents=True, exist_ok=True)
        (root / "ann").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            root / "img" / f"{name}.png"
        )
        Image.fromarray(rng.choice(drawn, (h, w)), mode="L").save(root / "ann" / f"{name}.png")
    return {
        "name": root.name,
        "kind": "segmentation",
        "images": str(root / "img"),
        "annotations": str(root / "ann"),
        "classes": classes,
        "reduce_zero_label": True,
        "image_suffix": ".png",
    }


@pytest.fixture()
def saved(dog_everywhere: LarvSegModel, tmp_path: Path) -> str:
    dog_everywhere.save_pretrained(tmp_path / "model")
    return str(tmp_path / "model")


def test_run_evaluation(saved: str, tmp_path: Path) -> None:
    train = write_source(tmp_path / "coco", [DOG, CAT])  # dog, cat: base
    test = write_source(tmp_path / "ade", [BIRD, DOG])  # bird (novel), dog
    config = TrainConfig.from_dict({"data": {"sources": [train]}, "output_dir": str(tmp_path)})
    report = run_evaluation(config, None, sources=[DataSourceConfig(**test)], progress=False)
    (result,) = report.results
    assert result.dataset == "ade"
    assert [(r.wnid, r.base) for r in result.per_class] == [(BIRD, False), (DOG, True)]
    bird, dog = (r.pixels for r in result.per_class)
    assert result.per_class[1].iou == pytest.approx(dog / (bird + dog))
    assert result.miou_novel == 0.0 and result.miou_base == pytest.approx(dog / (bird + dog))
    assert result.split.startswith("inferred: every class listed by the training segmentation")
    assert json.loads(report.to_json())["ade"]["miou_novel"] == 0.0
    assert str(report).startswith("evaluation of ade: mIoU")
    assert "base / novel: inferred" in str(report)
    default = run_evaluation(config, str(tmp_path / "model"), progress=False)
    assert [r.dataset for r in default.results] == ["coco"]
    assert default.results[0].miou_novel is None


def test_named_base_classes_make_blanked_classes_novel(saved: str, tmp_path: Path) -> None:
    """The mask source lists bird but its maps hold none (blanked): inferred, bird is base
    and novel is '-'; named base classes make bird novel."""
    train = write_source(tmp_path / "coco", [DOG, CAT, BIRD], values=(0, 1, 2))
    test = DataSourceConfig(**write_source(tmp_path / "ade", [BIRD, DOG]))
    inferred = TrainConfig.from_dict({"data": {"sources": [train]}})
    (result,) = run_evaluation(inferred, saved, sources=[test], progress=False).results
    assert result.miou_novel is None and "novel -" in str(result)
    named = TrainConfig.from_dict({"data": {"sources": [train], "base_classes": [DOG, CAT]}})
    (result,) = run_evaluation(named, saved, sources=[test], progress=False).results
    assert result.miou_novel == 0.0 and [r.base for r in result.per_class] == [False, True]
    assert result.split == "base classes named by data.base_classes (2 wnids)"
    (tmp_path / "base.txt").write_text(f"{DOG}\n{BIRD}\n", encoding="utf-8")
    flag = base_classes(named, str(tmp_path / "base.txt"))  # --base-classes wins
    assert flag.wnids == {DOG, BIRD} and flag.rule.startswith("base classes named by --base")


def test_a_training_source_listing_a_class_its_maps_never_hold_warns(
    saved: str, tmp_path: Path
) -> None:
    train = write_source(tmp_path / "coco", [DOG, CAT, BIRD], values=(0, 1, 2))
    config = TrainConfig.from_dict({"data": {"sources": [train]}})
    with pytest.warns(ClassListWarning, match=rf"'coco': 1 of its 3 listed classes .*{BIRD}"):
        run_evaluation(config, saved, progress=False)


def test_classes_the_model_lacks_stop_unless_allowed(saved: str, tmp_path: Path) -> None:
    test = write_source(tmp_path / "ade", [DOG, SKY])
    config = TrainConfig.from_dict({"data": {"sources": [test]}})
    with pytest.raises(EvaluationError, match=r"'ade'.*n09436708"):
        run_evaluation(config, saved, progress=False)
    report = run_evaluation(config, saved, progress=False, allow_uncovered=True)
    assert report.results[0].uncovered == [SKY]
    allowed = TrainConfig.from_dict({"data": {"sources": [test], "allow_uncovered": True}})
    assert run_evaluation(allowed, saved, progress=False).results[0].uncovered == [SKY]


def test_the_papers_split_as_base_classes(tmp_path: Path) -> None:
    """`paper` takes the benchmark of the evaluation sources; `paper:NAME` names it."""
    val = {"name": "val", "kind": "segmentation", "images": "i", "annotations": "a"}
    val["classes"] = "benchmark:ade-847"
    data = {"data": {"eval_sources": [val], "base_classes": "paper", "root": str(tmp_path)}}
    config = TrainConfig.from_dict(data)
    split = base_classes(config)
    assert len(split.wnids) == 92 and "the ade-847 classes the paper counts base" in split.rule
    assert base_classes(config, "paper:ade-150").wnids != split.wnids
    other = {**val, "name": "own", "classes": [DOG]}
    mixed = TrainConfig.from_dict({"data": {**data["data"], "eval_sources": [val, other]}})
    with pytest.raises(EvaluationError, match=r"data\.base_classes: 'paper' needs the benchmark"):
        base_classes(mixed)


def test_eval_only_command(saved: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_source(tmp_path / "coco", [DOG, CAT])
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({"data": {"sources": [source]}}))
    (tmp_path / "base.txt").write_text(f"{CAT}\n", encoding="utf-8")
    argv = ["--config", str(tmp_path / "run.yaml")]
    out = tmp_path / "eval.json"
    evaluate = ["eval", *argv, "--checkpoint", saved]
    assert main([*evaluate, "--json", str(out), "--base-classes", str(tmp_path / "base.txt")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("evaluation of coco: mIoU") and "dog.n.01" in printed
    assert f"wrote {out}" in printed
    data: dict[str, Any] = json.loads(out.read_text())
    assert list(data) == ["coco"] and "confusion" in data["coco"]
    assert [row["base"] for row in data["coco"]["per_class"]] == [False, True]
    assert main(["eval", *argv, "--checkpoint", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
    for flag in (["--json", "x.json"], ["--base-classes", "b.txt"], ["--allow-uncovered"]):
        with pytest.raises(SystemExit):  # argparse: an eval option given to fit
            main(["fit", *argv, *flag])
        assert f"unrecognized arguments: {flag[0]}" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["ade-150", "ade-847"])
def test_eval_only_and_larvseg_eval_agree(
    saved: str,
    name: str,
    benchmark_tree: Callable[..., Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """The shipped configurations' evaluation source and base classes give exactly the
    numbers (and JSON) of `larvseg eval` on the same download."""
    if name == "ade-150":
        maps = [np.kron(np.array([[127, 1, 0], [9, 127, 1]]), np.ones((16, 16), np.int64))]
        root = benchmark_tree(tmp_path / "data", name, maps)
        source = {"images": "ADEChallengeData2016/images/validation"}
        source["annotations"] = "ADEChallengeData2016/annotations/validation"
    else:
        root = request.getfixturevalue("ade847_tree")  # the real scenes
        source = {"images": "ADE20K_2021_17_01/images/ADE/validation", "label_suffix": "_seg.png"}
        source.update(annotations=source["images"], label_decoder="ade20k_full")
    source.update(name=name, kind="segmentation", classes=f"benchmark:{name}")
    data = {"eval_sources": [source], "base_classes": "benchmark:coco-stuff-171"}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({"data": data}))
    configured = ["eval", "--config", str(tmp_path / "run.yaml"), "--data-root", str(root)]
    configured += ["--checkpoint", saved, "--json", str(tmp_path / "a.json")]
    direct = ["eval", "--dataset", name, "--root", str(root), "--model", saved]
    direct += ["--json", str(tmp_path / "b.json")]
    predict = ["--size", "48", "--window", "32", "-k", "0", "--device", "cpu"]  # both have them
    configured, direct = [*configured, *predict], [*direct, *predict]
    assert main([*configured, "--allow-uncovered"]) == 0
    assert larvseg_main([*direct, "--allow-uncovered"]) == 0
    a, b = (json.loads((tmp_path / f).read_text())[name] for f in ("a.json", "b.json"))
    assert a.pop("split").startswith("base classes named by data.base_classes")
    assert b.pop("split").startswith(f"base = the {name} classes that are coco-stuff-171")
    del a["seconds"], b["seconds"]
    assert a == b and a["images"] == (1 if name == "ade-150" else 3)
