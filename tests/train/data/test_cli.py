"""`larvseg-data imagenet-subset`: symlink trees of a benchmark's ImageNet-21K classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from larvseg.train.config import DataSourceConfig
from larvseg.train.data.cli import imagenet21k_subset, link_subset, main
from larvseg.train.data.dataset import build_dataset
from larvseg.vocab.benchmarks import classes
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
    for name, count in (("ade-150", 119), ("ade-847", 588)):
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
    assert out.startswith(f"ade-150: 119 classes are ImageNet-21K classes; 3 found in {source}")
    assert "(3 new, 0 already there); 116 missing" in out
    assert f"  missing: {wanted[3].wnid}  {wanted[3].synset}" in out
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
