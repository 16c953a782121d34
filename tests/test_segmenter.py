"""`LarvSeg` end to end on a tiny random timm classifier: known answers against a reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from larvseg import LarvSeg, VocabularyError
from larvseg.errors import InputError
from larvseg.pipeline.image import ImageFile
from larvseg.pipeline.preprocess import normalize, resize_to_model


@pytest.fixture(scope="module")
def segmenter(timm_checkpoint: Path) -> LarvSeg:
    return LarvSeg.from_pretrained(timm_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def square_photo(real_images: list[Path]) -> np.ndarray:
    """A real photo cropped square (one window at the model's size), 300x300."""
    photo = Image.open(next(p for p in real_images if "Eskimo_dog" in p.name)).convert("RGB")
    side = min(photo.size)
    return np.asarray(photo.crop((0, 0, side, side)).resize((300, 300)))


def feature_logits(segmenter: LarvSeg, image: np.ndarray) -> torch.Tensor:
    """Logits `(C, h, w)` of one direct forward of the resized image."""
    config = segmenter.model.config
    resized = resize_to_model(image, config.image_size, segmenter.model.patch_size)
    with torch.no_grad():
        return segmenter.model(normalize(resized, config.mean, config.std)[None])[0]


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Full bilinear upsampling `(K, h, w) -> (K, H, W)`: the slow reference."""
    return F.interpolate(maps[None], size, mode="bilinear", align_corners=False)[0]


def test_all_categories_equals_full_upsampling_argmax(segmenter: LarvSeg, square_photo) -> None:
    seg = segmenter.segment(square_photo, k=1000)
    logits = feature_logits(segmenter, square_photo)
    ref = upsample(logits, (300, 300)).argmax(0)
    winners = np.array([c.wnid for c in seg.categories])[seg.labels]
    ref_winners = np.array(segmenter.model.config.categories)[ref.numpy()]
    assert seg.labels.shape == (300, 300) and seg.labels.dtype == np.int32
    assert (winners == ref_winners).all()
    # scores: the upsampled softmax probability of the winner
    probs = upsample(logits.softmax(0), (300, 300)).gather(0, ref[None])[0].numpy()
    np.testing.assert_allclose(seg.scores, probs, atol=1e-6)
    assert sorted(np.unique(seg.labels)) == list(range(len(seg.categories)))


def dense_reference(logits: torch.Tensor, model_size: int, out_size: int) -> torch.Tensor:
    """`(K, h, w)` logits of overlapping 16-pixel patches every 8 pixels, sampled at the
    centres of `out_size` pixels (cell i sits at 8 i + 8 model pixels): grid_sample."""
    cells = logits.shape[-1]
    src = ((torch.arange(out_size) + 0.5) * model_size / out_size - 8) / 8
    coords = 2 * src / (cells - 1) - 1
    grid = torch.stack(torch.meshgrid(coords, coords, indexing="xy"), dim=-1)[None]
    return F.grid_sample(
        logits[None], grid, mode="bilinear", padding_mode="border", align_corners=True
    )[0]


def test_half_patch_stride_decides_on_the_dense_grid(segmenter: LarvSeg, square_photo) -> None:
    seg = segmenter.segment(square_photo, stride=8, k=1000)
    config = segmenter.model.config
    resized = resize_to_model(square_photo, config.image_size, 16)
    with torch.no_grad():
        logits = segmenter.model(normalize(resized, config.mean, config.std)[None], stride=8)[0]
    assert logits.shape[1:] == ((resized.shape[0] - 16) // 8 + 1,) * 2
    ref = dense_reference(logits, resized.shape[0], 300)
    winners = np.array([c.wnid for c in seg.categories])[seg.labels]
    ref_winners = np.array(config.categories)[ref.argmax(0).numpy()]
    assert (winners == ref_winners).mean() > 0.999  # float ties aside, the same decisions
    probs = dense_reference(logits.softmax(0), resized.shape[0], 300)
    probs = probs.gather(0, ref.argmax(0)[None])[0]  # the winner's upsampled probability
    same = winners == ref_winners
    np.testing.assert_allclose(seg.scores[same], probs.numpy()[same], atol=1e-5)


def test_stride_of_the_patch_size_is_the_default_path(segmenter: LarvSeg, square_photo) -> None:
    default = segmenter.segment(square_photo, vocab=["dog.n.01", "cat.n.01"])
    explicit = segmenter.segment(square_photo, vocab=["dog.n.01", "cat.n.01"], stride=16)
    assert np.array_equal(default.labels, explicit.labels)
    assert np.array_equal(default.scores, explicit.scores)
    with pytest.raises(InputError, match="divisor of the patch size 16"):
        segmenter.segment(square_photo, stride=5)


def test_closed_vocabulary_decides_among_covered_categories(
    segmenter: LarvSeg, square_photo
) -> None:
    vocab = ["dog.n.01", "domestic_cat.n.01", "n04037443"]  # n04037443: racer (a car)
    seg = segmenter.segment(square_photo, vocab=vocab, mode="closed", k=1000)
    assert {c.name for c in seg.categories} <= {"dog.n.01", "domestic_cat.n.01", "racer.n.02"}
    assert (seg.labels >= 0).all()
    # reference: argmax over the covered classes of the full-resolution map
    subset = segmenter.vocabulary.subset(vocab)
    covered = torch.from_numpy(np.flatnonzero(subset.assignment >= 0))
    item_of = torch.from_numpy(subset.assignment)[covered]
    logits = feature_logits(segmenter, square_photo)[covered]
    ref_items = item_of[upsample(logits, (300, 300)).argmax(0)]
    names = np.array([c.name for c in seg.categories])[seg.labels]
    item_names = np.array([item.name for item in subset.items])
    assert (names == item_names[ref_items.numpy()]).all()
    # scores: the upsampled softmax mass (over covered classes) of the pixel's item
    mass = torch.zeros(len(subset.items), *logits.shape[1:]).index_add_(
        0, item_of, logits.softmax(0)
    )
    ref_scores = upsample(mass, (300, 300)).gather(0, ref_items[None])[0].numpy()
    np.testing.assert_allclose(seg.scores, ref_scores, atol=1e-6)


def test_open_mode_labels_exactly_the_pixels_whose_winner_is_covered(
    segmenter: LarvSeg, square_photo
) -> None:
    everything = segmenter.segment(square_photo)
    dog_members = set(segmenter.vocabulary.members("dog.n.01"))
    winner_is_dog = np.isin(
        np.array([c.wnid for c in everything.categories])[everything.labels], list(dog_members)
    )
    seg = segmenter.segment(square_photo, vocab=["dog.n.01"], mode="open")
    assert set(np.unique(seg.labels)) <= {-1, 0}
    assert np.array_equal(seg.labels == 0, winner_is_dog)
    assert np.array_equal(seg.mask("dog.n.01"), winner_is_dog)


def test_list_input_is_batched_and_equals_single_calls(segmenter: LarvSeg, real_images) -> None:
    paths = real_images[:3]
    batched = segmenter.segment(paths, vocab=["animal.n.01", "artifact.n.01"], batch_size=8)
    assert isinstance(batched, list) and len(batched) == 3
    for path, seg in zip(paths, batched, strict=True):
        single = segmenter.segment(path, vocab=["animal.n.01", "artifact.n.01"])
        assert np.array_equal(seg.labels, single.labels)
        assert seg.labels.shape == Image.open(path).size[::-1]
        assert seg.source is not None and path.name in seg.source


def test_large_and_tiny_and_grayscale_images(segmenter: LarvSeg, real_images) -> None:
    for path in real_images:
        with Image.open(path) as im:
            size, mode = im.size, im.mode
        seg = segmenter.segment(path, vocab=["entity.n.01"])
        assert seg.labels.shape == size[::-1], path.name
        assert mode in ("RGB", "L")
    one_pixel = segmenter.segment(np.zeros((1, 1, 3), dtype=np.uint8))
    assert one_pixel.labels.shape == (1, 1)


def test_bf16_autocast_agrees_with_fp32(timm_checkpoint: Path, square_photo) -> None:
    fp32 = LarvSeg.from_pretrained(timm_checkpoint, device="cpu")
    bf16 = LarvSeg.from_pretrained(timm_checkpoint, device="cpu", dtype=torch.bfloat16)
    a = fp32.segment(square_photo, vocab=["animal.n.01", "artifact.n.01"])
    b = bf16.segment(square_photo, vocab=["animal.n.01", "artifact.n.01"])
    names_a = np.array([c.name for c in a.categories])[a.labels]
    names_b = np.array([c.name for c in b.categories])[b.labels]
    assert (names_a == names_b).mean() > 0.9


def test_saved_model_segments_identically(segmenter: LarvSeg, square_photo, tmp_path: Path) -> None:
    segmenter.save_pretrained(tmp_path)
    again = LarvSeg.from_pretrained(tmp_path, device="cpu")
    assert np.array_equal(
        segmenter.segment(square_photo).labels, again.segment(square_photo).labels
    )


def test_bad_vocabularies_and_modes_are_named(segmenter: LarvSeg, square_photo) -> None:
    with pytest.raises(VocabularyError, match="empty"):
        segmenter.segment(square_photo, vocab=[])
    with pytest.raises(VocabularyError, match=r"dgo\.n\.01"):
        segmenter.segment(square_photo, vocab=["dgo.n.01"])
    with pytest.raises(VocabularyError, match=r"moon\.n\.01"):
        segmenter.segment(square_photo, vocab=["moon.n.01"])
    with pytest.raises(ValueError, match="mode='half'"):
        segmenter.segment(square_photo, vocab=["dog.n.01"], mode="half")
    with pytest.raises(ValueError, match="dtype"):
        LarvSeg(segmenter.model, dtype="int8")


def test_segment_files_equals_segment_and_reports_bad_files(
    segmenter: LarvSeg, real_images, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"no")
    paths = [real_images[0], broken, real_images[1], real_images[2]]
    files = [ImageFile(paths[0], "named"), str(broken), *paths[2:]]  # records, str, Path
    vocab = ["dog.n.01", "cat.n.01"]
    results = list(
        segmenter.segment_files(files, vocab, images_per_batch=3, windows_per_pass=2, num_workers=1)
    )
    assert [r.file.path for r in results] == paths
    assert [r.file.name for r in results] == ["named", *(p.stem for p in paths[1:])]
    assert results[1].segmentation is None
    assert (results[1].error or "").startswith("not an image Pillow can read")  # path once
    for result in (results[0], results[2], results[3]):
        assert result.error is None and result.segmentation is not None
        alone = segmenter.segment(result.file.path, vocab)
        assert np.array_equal(result.segmentation.labels, alone.labels)
        np.testing.assert_allclose(result.segmentation.scores, alone.scores, atol=1e-6)
        assert result.segmentation.categories == alone.categories


def test_segment_files_old_batch_size_warns_and_sets_both(
    segmenter: LarvSeg, real_images, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = {}

    def record(files, transform, *, images_per_batch, num_workers):  # type: ignore[no-untyped-def]
        seen["images_per_batch"] = images_per_batch
        return []

    monkeypatch.setattr("larvseg.segmenter.load_batches", record)
    with pytest.warns(FutureWarning, match="images_per_batch .* windows_per_pass"):
        assert list(segmenter.segment_files(real_images[:1], batch_size=3)) == []
    assert seen == {"images_per_batch": 3}


def test_segment_files_checks_its_options_when_called(segmenter: LarvSeg) -> None:
    for options, message in [
        ({"images_per_batch": 0}, "images_per_batch=0 must be a positive whole number"),
        ({"windows_per_pass": 0}, "windows_per_pass=0 must be a positive whole number"),
        ({"num_workers": -1}, "num_workers=-1 must be 0 or more"),
        ({"stride": 0}, "stride=0 must be a positive whole number"),
    ]:
        with pytest.raises(InputError, match=message):
            segmenter.segment_files(["a.jpg"], **options)  # not iterated: fails at once
    with pytest.raises(VocabularyError, match=r"moon\.n\.01"):
        segmenter.segment_files(["~/a.jpg"], vocab=["moon.n.01"])
