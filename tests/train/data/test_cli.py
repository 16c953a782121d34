"""`larvseg-data imagenet-subset`: symlink trees of a benchmark's ImageNet-21K classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from larvseg.train.config import DataSourceConfig
from larvseg.train.data.cli import imagenet21k_subset, link_subset, main, subset_plan
from larvseg.train.data.dataset import build_dataset
from larvseg.vocab.benchmarks import classes, paper_subset
from larvseg.vocab.table import WordNetTable

TENCH = "n01440764"  # an ImageNet-21K class that is no ADE-150 class


def write_in21k(root: Path, wnids: list[str]) -> Path:
    for wnid in wnids:
        (root / wnid).mkdir(parents=True)
        pixels = np.zeros((8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / wnid / f"{wnid}_1.JPEG")
    return root


def test_subset_is_the_benchmark_classes_in_imagenet21k() -> None:
    in21k = set(WordNetTable.packaged().lists["imagenet22k"])
    for name, count in (("ade-150", 119), ("ade-847", 590)):
        subset = imagenet21k_subset(name)
        assert len(subset) == count == len({c.wnid for c in classes(name)} & in21k)
        assert len({c.wnid for c in subset}) == count  # one per synset, first class kept
    assert [c.name for c in imagenet21k_subset("ade-847") if c.wnid == "n02818832"] == ["bed"]


def test_links_found_classes_and_reports_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wanted = imagenet21k_subset("ade-150")
    present = [c.wnid for c in wanted[:3]]
    source = write_in21k(tmp_path / "in21k", [*present, TENCH])
    target = tmp_path / "i124"
    argv = ["imagenet-subset", "ade-150", "--from", str(source), "--to", str(target)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"ade-150 classes that are ImageNet-21K classes: 119 classes; 3 found in {source}"
    )
    assert "(3 new, 0 already there); 116 missing" in out
    assert f"  missing: {wanted[3].wnid}  {wanted[3].synset}  ({wanted[3].name})" in out
    assert sorted(p.name for p in target.iterdir()) == sorted(present)
    assert all((target / w).resolve() == (source / w).resolve() for w in present)
    again = link_subset("ade-150", source, target)  # idempotent
    assert (again.linked, sorted(again.kept), len(again.missing)) == ([], sorted(present), 116)
    config = DataSourceConfig(name="i124", kind="singlelabel", images=str(target))
    dataset = build_dataset(config, (0.5,) * 3, (0.5,) * 3)
    assert dataset.classes == sorted(present) and len(dataset) == 3


def test_refuses_a_wrong_tree_or_a_used_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_in21k(tmp_path / "in21k", [TENCH])
    argv = ["imagenet-subset", "ade-150", "--from", str(source), "--to", str(tmp_path / "out")]
    assert main(argv) == 2
    assert "has none of the 119 ade-150 ImageNet-21K class folders" in capsys.readouterr().err
    write_in21k(source, [imagenet21k_subset("ade-150")[0].wnid])
    (tmp_path / "out" / TENCH).mkdir(parents=True)
    assert main(argv) == 2
    assert f"holds {TENCH}, which are no ade-150" in capsys.readouterr().err
    assert main([*argv[:2], "--from", str(tmp_path / "nowhere"), "--to", "x"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_paper_plan_names_folders_by_larvsegs_wnid() -> None:
    """I124: 124 classes, one paper wnid each; I585: 585 wnids in 580 class folders."""
    i124 = subset_plan("ade-150", as_paper=True)
    assert len(i124) == 124 and all(len(c.sources) == 1 for c in i124)
    wall = next(c for c in i124 if c.wnid == classes("ade-150")[0].wnid)
    assert wall.sources == ("n04547592",)  # the paper's wall.n.07, larvseg's wall.n.01
    i585 = subset_plan("ade-847", as_paper=True)
    assert sum(len(c.sources) for c in i585) == 585 and len(i585) == 580
    lockers = next(c for c in i585 if c.wnid == classes("ade-847")[325].wnid)
    assert sorted(lockers.sources) == ["n02933462", "n03683606"]  # "lockers" and "locker"


def test_as_paper_links_the_papers_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = {c.wnid: c for c in subset_plan("ade-847", as_paper=True)}
    lockers = plan[classes("ade-847")[325].wnid]
    wall = plan[classes("ade-847")[0].wnid]
    source = write_in21k(tmp_path / "in21k", [*lockers.sources, *wall.sources, TENCH])
    target = tmp_path / "i585"
    argv = ["imagenet-subset", "ade-847", "--as-paper", "--from", str(source), "--to", str(target)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ade-847 I585 (the paper's): 580 classes; 2 found in {source}")
    assert "(2 new, 0 already there); 578 missing" in out
    assert (target / wall.wnid).resolve() == (source / wall.sources[0]).resolve()
    merged = sorted(p.name for p in (target / lockers.wnid).iterdir())  # two folders' images
    assert merged == sorted(f"{w}_1.JPEG" for w in lockers.sources)
    again = link_subset("ade-847", source, target, as_paper=True)
    assert (again.linked, sorted(again.kept)) == ([], sorted([wall.wnid, lockers.wnid]))
    config = DataSourceConfig(name="i585", kind="singlelabel", images=str(target))
    dataset = build_dataset(config, (0.5,) * 3, (0.5,) * 3)
    assert sorted(dataset.classes) == sorted([wall.wnid, lockers.wnid]) and len(dataset) == 3
    assert {p.wnid for p in paper_subset("ade-847") if p.value in (0, 325, 463)} >= set(
        lockers.sources
    )
    assert main(["imagenet-subset", "coco-stuff-171", "--as-paper", *argv[3:]]) == 2
    assert "the paper has no ImageNet subset of coco-stuff-171" in capsys.readouterr().err
