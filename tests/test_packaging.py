"""What the wheel must contain: every module and every package data file users need."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PACKAGE_DATA = [
    "larvseg/py.typed",
    "larvseg/vocab/data/wordnet_nouns.tsv.gz",
    "larvseg/vocab/data/wordnet_other_nouns.tsv.gz",
    "larvseg/vocab/data/wordnet_noun_exceptions.tsv.gz",
    "larvseg/vocab/data/benchmarks/ade-150.tsv",
    "larvseg/vocab/data/benchmarks/ade-847.tsv",
    "larvseg/vocab/data/benchmarks/coco-stuff-171.tsv",
    "larvseg/vocab/data/benchmarks/paper/i124.tsv",
    "larvseg/vocab/data/benchmarks/paper/i585.tsv",
    "larvseg/vocab/data/benchmarks/paper/novel-ade-150.tsv",
    "larvseg/vocab/data/benchmarks/paper/novel-ade-847.tsv",
    "larvseg/train/configs/larvseg_c171_i21k.yaml",
    "larvseg/train/configs/larvseg_c171_wa150.yaml",
    "larvseg/train/configs/larvseg_c171_wa150_i124.yaml",
    "larvseg/train/configs/larvseg_c171_wa847_i585.yaml",
    "larvseg/train/configs/toy/baseline.yaml",
    "larvseg/train/configs/toy/larvseg.yaml",
    "larvseg/train/configs/toy/supervised.yaml",
]
"""Non-Python files the package reads at run time (a missing one fails only on a user's machine)."""


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("larvseg-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_holds_every_module(wheel_files: set[str]) -> None:
    modules = {str(p.relative_to(REPO)) for p in (REPO / "larvseg").rglob("*.py")}
    assert modules - wheel_files == set()


def test_wheel_holds_the_package_data(wheel_files: set[str]) -> None:
    assert set(PACKAGE_DATA) - wheel_files == set()
    assert not [name for name in wheel_files if name.startswith(("tests/", "benchmarks/"))]


def test_package_data_list_is_complete() -> None:
    """Every non-Python file under larvseg/ is listed above, so the wheel test covers it."""
    data = {
        str(p.relative_to(REPO))
        for p in (REPO / "larvseg").rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc")
    }
    assert data == set(PACKAGE_DATA)
