"""The toy benchmark generator: deterministic real files that the training sources read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from larvseg.train.data.dataset import build_dataset
from larvseg.train.schema import load_config
from larvseg.train.toy.cli import main as toy_main
from larvseg.train.toy.generate import SYNSETS, ToySpec, ToySpecError, generate, read_manifest
from larvseg.train.toy.textures import pattern_catalogue, texture_field
from larvseg.vocab.table import WordNetTable

SMALL = {"num_base": 4, "num_novel": 3, "image_size": 48, "base_images": 10,
         "scene_images": 10, "object_images": 4, "val_images": 6}  # fmt: skip


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("toy"), ToySpec(seed=3, **SMALL), progress=False)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _map(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_same_seed_same_bytes_other_seed_other_images(toy: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", ToySpec(seed=3, **SMALL), progress=False)
    assert _digest(again) == _digest(toy)
    other = generate(tmp_path / "other", ToySpec(seed=4, **SMALL), progress=False)
    digests, other_digests = _digest(toy), _digest(other)
    images = [k for k in digests if k.endswith(".png")]
    assert len(images) == 2 * (10 + 10 + 3 * 4 + 6)
    assert all(digests[k] != other_digests[k] for k in images)


def test_every_config_source_reads_the_files(toy: Path) -> None:
    for method in ("supervised", "baseline", "larvseg"):
        config = load_config(f"toy/{method}", data_root=str(toy))
        for source in [*config.data.sources, *config.data.eval_sources]:
            dataset = build_dataset(source, (0.5,) * 3, (0.5,) * 3)
            dataset.validate()
            expected = {"base": 10, "scenes": 10, "objects": 12, "val": 6}[source.name]
            assert len(dataset) == expected, (method, source.name)
            assert dataset[0] is not None


def test_classes_are_wordnet_synsets_base_first(toy: Path) -> None:
    spec, classes = read_manifest(toy)
    table = WordNetTable.packaged()
    assert [c.name for c in classes] == list(SYNSETS[:7])
    assert [c.role for c in classes] == ["base"] * 4 + ["novel"] * 3
    for c in classes:
        assert table.records[table.rows[c.wnid]].name == c.name
    lines = (toy / "classes.txt").read_text().split()
    assert lines == [c.wnid for c in classes]
    assert (toy / "base_classes.txt").read_text().split() == lines[:4]
    assert spec == ToySpec(seed=3, **SMALL)


def test_labels_masks_and_roles(toy: Path) -> None:
    _, classes = read_manifest(toy)
    wnids = [c.wnid for c in classes]
    for path in (toy / "base/annotations").glob("*.png"):
        values = np.unique(_map(path))
        assert values.max() < 4 and 2 <= values.size <= 4
    entries = [json.loads(line) for line in (toy / "scenes/labels.jsonl").read_text().splitlines()]
    assert len(entries) == 10
    for entry in entries:
        values = np.unique(_map(toy / "scenes/annotations" / entry["image"]))
        assert entry["labels"] == [wnids[v] for v in values]
        assert any(v >= 4 for v in values) and any(v < 4 for v in values)
    for folder in (toy / "objects/annotations").iterdir():
        target = wnids.index(folder.name)
        assert target >= 4
        for path in folder.glob("*.png"):
            label = _map(path)
            share = (label == target).mean()
            assert label[24, 24] == target and 0.1 < share < 0.7
            assert set(np.unique(label)) - {target} <= set(range(4))


def test_region_sizes_vary_and_respect_the_minimum(toy: Path) -> None:
    shares = []
    for path in (toy / "base/annotations").glob("*.png"):
        counts = np.bincount(_map(path).ravel())
        shares += list(counts[counts > 0] / counts.sum())
    assert min(shares) >= 0.04
    assert min(shares) < 0.15 and max(shares) > 0.5


@pytest.mark.parametrize(("angle", "axis"), [(0.0, 1), (90.0, 0)])
def test_grating_frequency_and_orientation(angle: float, axis: int) -> None:
    pattern = next(p for p in pattern_catalogue() if p.family == "grating" and p.angle == angle)
    field = texture_field(pattern, 96, np.random.default_rng(0))
    spectrum = np.abs(np.fft.fft2(field - field.mean()))
    peak = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    frequency = min(peak[axis], 96 - peak[axis])  # cycles per 96 pixels
    assert 96 / pattern.period * 0.8 <= frequency <= 96 / pattern.period * 1.2
    assert min(peak[1 - axis], 96 - peak[1 - axis]) <= 2


def test_a_pixel_colour_does_not_tell_the_class(toy: Path) -> None:
    """Every class's pixels have about the same mean colour: the pattern must be read."""
    sums, counts = np.zeros((4, 3)), np.zeros(4)
    for path in (toy / "base/images").glob("*.png"):
        image = np.asarray(Image.open(path), dtype=np.float64) / 255
        label = _map(toy / "base/annotations" / path.name)
        for c in range(4):
            sums[c] += image[label == c].sum(axis=0)
            counts[c] += (label == c).sum()
    means = sums / counts[:, None]
    assert np.abs(means - means.mean(axis=0)).max() < 0.12


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_base": 12, "num_novel": 6}, "exceeds the 16 classes"),
        ({"num_novel": 0}, "num_novel >= 1"),
        ({"image_size": 8}, "image_size must be at least 16"),
        ({"val_images": 0}, "val_images must be at least 1"),
        ({"min_region": 0.3}, "min_region"),
    ],
)
def test_bad_specs_name_the_parameter(kwargs: dict, message: str) -> None:
    with pytest.raises(ToySpecError, match=message):
        ToySpec(**kwargs)


def test_a_complete_folder_of_the_same_spec_is_not_rewritten(toy: Path) -> None:
    image = toy / "base/images/00000.png"
    written = image.stat().st_mtime_ns
    assert generate(toy, ToySpec(seed=3, **SMALL), progress=False) == toy
    assert image.stat().st_mtime_ns == written


def test_a_folder_of_another_spec_is_refused_untouched(toy: Path) -> None:
    before = _digest(toy)
    with pytest.raises(ToySpecError, match="another spec"):
        generate(toy, ToySpec(seed=9, **SMALL), progress=False)
    assert _digest(toy) == before


def test_cli_writes_and_reports_errors(tmp_path: Path, capsys) -> None:
    args = [str(tmp_path / "cli"), "--seed", "1", "--num-base", "2", "--num-novel", "1",
            "--image-size", "32", "--base-images", "2", "--scene-images", "2",
            "--object-images", "1", "--val-images", "1", "--quiet"]  # fmt: skip
    assert toy_main(args) == 0
    spec, _ = read_manifest(tmp_path / "cli")
    assert (spec.seed, spec.num_base, spec.image_size) == (1, 2, 32)
    assert toy_main([str(tmp_path / "bad"), "--num-novel", "0", "--quiet"]) == 2
    assert "num_novel >= 1" in capsys.readouterr().err
