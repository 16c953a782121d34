"""`larvseg.integrations.ray.Segmenter`: Ray Data batch inference equals `segment()`."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from larvseg import LarvSeg, Segmentation
from larvseg.errors import InputError, MissingExtraError

ray = pytest.importorskip("ray")
from larvseg.integrations.ray import Segmenter  # noqa: E402

SIZE = 64  # short side the tiny model sees: fast, and still several windows per photo
VOCAB = ["dog.n.01", "cat.n.01", "bird.n.01"]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray instance on two CPUs for the module's tests."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def photos(real_images: list[Path]) -> list[Path]:
    return real_images[:3]


@pytest.fixture(scope="module")
def expected(timm_checkpoint: Path, photos: list[Path], wordnet: Any) -> dict[str, Segmentation]:
    """`segment()`'s results for the photos, in closed mode over VOCAB, by path."""
    segmenter = LarvSeg.from_pretrained(timm_checkpoint, device="cpu")
    results = segmenter.segment([str(p) for p in photos], VOCAB, size=SIZE)
    return {str(p): r for p, r in zip(photos, results, strict=True)}


def check_row(row: dict[str, Any], result: Segmentation) -> None:
    """The row's labels are `segment()`'s plus one, its categories the same wnids/names."""
    assert row["error"] == ""
    assert row["labels"].dtype == np.uint16
    np.testing.assert_array_equal(row["labels"], result.labels + 1)
    categories = json.loads(row["categories"])
    assert categories == [{"wnid": c.wnid, "name": c.name} for c in result.categories]
    assert len(categories) >= 1


def kwargs(checkpoint: Path) -> dict[str, Any]:
    return {"model": str(checkpoint), "vocab": VOCAB, "device": "cpu", "size": SIZE}


def test_call_on_a_batch_of_arrays_and_of_bytes(
    timm_checkpoint: Path, photos: list[Path], expected: dict[str, Segmentation], tmp_path: Path
) -> None:
    """Without Ray: `__call__` on both batch layouts; a corrupt file is a row with its error."""
    segmenter = Segmenter(**kwargs(timm_checkpoint))
    arrays = np.empty(len(photos), dtype=object)
    arrays[:] = [expected[str(p)].image for p in photos]
    out = segmenter({"image": arrays, "path": np.array([str(p) for p in photos])})
    assert "image" not in out
    for i, photo in enumerate(photos):
        check_row({name: out[name][i] for name in out}, expected[str(photo)])
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(photos[0].read_bytes()[:200])
    files = [photos[1], corrupt, photos[2]]
    batch = {"bytes": np.array([f.read_bytes() for f in files], dtype=object)}
    out = Segmenter(**kwargs(timm_checkpoint), keep_inputs=True)(batch)
    assert list(out["bytes"]) == list(batch["bytes"])
    assert list(out["path"]) == ["", "", ""]
    check_row({name: out[name][0] for name in out}, expected[str(photos[1])])
    check_row({name: out[name][2] for name in out}, expected[str(photos[2])])
    assert out["error"][1].startswith("row 1 (200 bytes of an encoded image): cannot decode")
    assert "truncated or corrupt" in out["error"][1]
    assert out["labels"][1].shape == (0, 0) and out["categories"][1] == "[]"


def test_a_batch_without_pixels_is_a_clear_error(timm_checkpoint: Path) -> None:
    with pytest.raises(InputError, match=r"no `image` or `bytes`.*read_binary_files"):
        Segmenter(model=str(timm_checkpoint), device="cpu")({"path": np.array(["a.jpg"])})


@pytest.mark.slow  # a local Ray instance: tens of seconds to start
def test_ray_read_images_map_batches(
    local_ray: None, timm_checkpoint: Path, photos: list[Path], expected: dict[str, Segmentation]
) -> None:
    ds = ray.data.read_images([str(p) for p in photos], include_paths=True, mode="RGB")
    ds = ds.map_batches(
        Segmenter, fn_constructor_kwargs=kwargs(timm_checkpoint), concurrency=1, batch_size=2
    )
    rows = {Path(row["path"]).name: row for row in ds.take_all()}
    assert sorted(rows) == sorted(p.name for p in photos)
    for photo in photos:
        check_row(rows[photo.name], expected[str(photo)])


@pytest.mark.slow  # a local Ray instance: tens of seconds to start
def test_ray_binary_files_with_a_corrupt_file_and_a_text_file(
    local_ray: None,
    timm_checkpoint: Path,
    photos: list[Path],
    expected: dict[str, Segmentation],
    tmp_path: Path,
) -> None:
    """A folder on "object storage" (read as bytes) with a truncated JPEG and a text file:
    the job finishes, both bad files are rows naming the reason, the photos are segmented."""
    folder = tmp_path / "bucket"
    folder.mkdir()
    for photo in photos:
        (folder / photo.name).write_bytes(photo.read_bytes())
    (folder / "truncated.jpg").write_bytes(photos[0].read_bytes()[:300])
    (folder / "notes.jpg").write_text("not an image\n")
    ds = ray.data.read_binary_files(str(folder), include_paths=True)
    ds = ds.map_batches(  # half a CPU each: two actors leave room for the read tasks
        Segmenter,
        fn_constructor_kwargs=kwargs(timm_checkpoint),
        concurrency=2,
        num_cpus=0.5,
        batch_size=2,
    )
    rows = {Path(row["path"]).name: row for row in ds.take_all()}
    assert sorted(rows) == sorted([p.name for p in photos] + ["truncated.jpg", "notes.jpg"])
    for photo in photos:
        check_row(rows[photo.name], expected[str(photo)])
    truncated, notes = rows["truncated.jpg"], rows["notes.jpg"]
    assert "truncated.jpg" in truncated["error"] and "truncated or corrupt" in truncated["error"]
    assert "notes.jpg" in notes["error"] and "not an image Pillow can read" in notes["error"]
    assert truncated["labels"].shape == (0, 0) and notes["categories"] == "[]"


def test_without_ray_the_message_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "larvseg.integrations.ray")
    for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.setitem(sys.modules, name, None)  # `import ray` raises ImportError
    with pytest.raises(MissingExtraError, match=r'pip install "larvseg\[ray\]"'):
        importlib.import_module("larvseg.integrations.ray")
