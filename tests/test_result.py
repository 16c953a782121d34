"""`Segmentation`: masks over hyponyms, pixel counts, overlay and saved files, exactly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from larvseg.errors import MissingExtraError
from larvseg.overlay import LEGEND_ENTRIES, category_color, legend_lines
from larvseg.result import Segmentation, label_png
from larvseg.vocab.vocabulary import Vocabulary, VocabularyError

AIREDALE, GREYHOUND, TABBY, VOLCANO = "n02096051", "n02091032", "n02123045", "n09472597"
# 4 x 6 label map: two dogs on top (a terrier and a hound), unlabeled top right,
# a cat bottom left and a volcano bottom right.
LABELS = np.array(
    [
        [0, 0, 1, 1, -1, -1],
        [0, 0, 1, 1, -1, -1],
        [2, 2, 2, 3, 3, 3],
        [2, 2, 2, 3, 3, 3],
    ],
    dtype=np.int32,
)


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.imagenet21k()


def make(
    vocabulary: Vocabulary,
    labels: np.ndarray = LABELS,
    wnids: tuple[str, ...] = (AIREDALE, GREYHOUND, TABBY, VOLCANO),
    seed: int = 0,
) -> Segmentation:
    rng = np.random.default_rng(seed)
    return Segmentation(
        labels=labels,
        scores=rng.random(labels.shape, dtype=np.float32),
        categories=[vocabulary.resolve(w) for w in wnids],
        image=rng.integers(0, 256, (*labels.shape, 3), dtype=np.uint8),
        vocabulary=vocabulary,
        source="photos/scene.jpg",
    )


# ---------------------------------------------------------------- masks and counts


@pytest.mark.parametrize(
    ("item", "indices"),
    [
        ("dog.n.01", [0, 1]),
        ("terrier.n.01", [0]),
        ("carnivore.n.01", [0, 1, 2]),
        ("cat.n.01", [2]),
        (VOLCANO, [3]),
        ("entity.n.01", [0, 1, 2, 3]),
        ("grass.n.01", []),  # a real synset with no pixels in this image
    ],
)
def test_mask_covers_the_item_and_its_hyponyms(
    vocabulary: Vocabulary, item: str, indices: list[int]
) -> None:
    mask = make(vocabulary).mask(item)
    assert mask.dtype == bool and mask.shape == LABELS.shape
    np.testing.assert_array_equal(mask, np.isin(LABELS, indices))


def test_mask_accepts_a_category(vocabulary: Vocabulary) -> None:
    seg = make(vocabulary)
    np.testing.assert_array_equal(seg.mask(seg.categories[2]), LABELS == 2)


def test_mask_of_unknown_name_raises_vocabulary_error(vocabulary: Vocabulary) -> None:
    with pytest.raises(VocabularyError, match=r"notaword\.n\.01"):
        make(vocabulary).mask("notaword.n.01")


def test_pixel_counts(vocabulary: Vocabulary) -> None:
    counts = make(vocabulary).pixel_counts()
    assert counts == {AIREDALE: 4, GREYHOUND: 4, TABBY: 6, VOLCANO: 6}
    assert list(counts) == [AIREDALE, GREYHOUND, TABBY, VOLCANO]


def test_repr_is_short(vocabulary: Vocabulary) -> None:
    assert repr(make(vocabulary)) == (
        "Segmentation('photos/scene.jpg', 4x6, categories=[airedale.n.01, "
        "italian_greyhound.n.01, tabby.n.01, volcano.n.02])"
    )


# ---------------------------------------------------------------- validation


def test_label_out_of_range_is_refused(vocabulary: Vocabulary) -> None:
    with pytest.raises(ValueError, match=r"span \[-1, 4\] but must lie in \[-1, 4\)"):
        make(vocabulary, labels=np.where(LABELS == 3, 4, LABELS))
    with pytest.raises(ValueError, match=r"span \[-2, 3\]"):
        make(vocabulary, labels=np.where(LABELS == -1, -2, LABELS))


def test_shapes_must_agree(vocabulary: Vocabulary) -> None:
    seg = make(vocabulary)
    with pytest.raises(ValueError, match=r"scores must be .* shape \(4, 6\)"):
        Segmentation(LABELS, seg.scores[:3], seg.categories, seg.image, vocabulary)
    with pytest.raises(ValueError, match=r"image must be \(4, 6, 3\) uint8"):
        Segmentation(LABELS, seg.scores, seg.categories, seg.image[:, :5], vocabulary)
    with pytest.raises(ValueError, match=r"image must be .* dtype float64"):
        Segmentation(LABELS, seg.scores, seg.categories, seg.image / 255.0, vocabulary)
    with pytest.raises(ValueError, match=r"labels must be an .* integer array"):
        Segmentation(LABELS.astype(float), seg.scores, seg.categories, seg.image, vocabulary)


def test_labels_and_scores_are_normalised_to_int32_float32(vocabulary: Vocabulary) -> None:
    seg = make(vocabulary)
    other = Segmentation(
        LABELS.astype(np.int64),
        seg.scores.astype(np.float64),
        seg.categories,
        seg.image,
        vocabulary,
    )
    assert other.labels.dtype == np.int32 and other.scores.dtype == np.float32
    np.testing.assert_array_equal(other.labels, LABELS)


# ---------------------------------------------------------------- overlay


def expected_blend(seg: Segmentation, alpha: float) -> np.ndarray:
    colors = np.array([category_color(c.wnid) for c in seg.categories], dtype=np.float64)
    blended = (1 - alpha) * seg.image + alpha * colors[np.maximum(seg.labels, 0)]
    return np.where(seg.labels[:, :, None] >= 0, np.rint(blended), seg.image).astype(np.uint8)


def test_overlay_tints_only_labeled_pixels_and_adds_a_legend_to_the_right(
    vocabulary: Vocabulary,
) -> None:
    seg = make(vocabulary)
    overlay = seg.overlay()
    assert overlay.mode == "RGB"
    canvas = np.asarray(overlay)
    assert canvas.shape[1] > 6 and canvas.shape[0] >= 4
    region = canvas[:4, :6]
    np.testing.assert_array_equal(region, expected_blend(seg, 0.5))
    changed = (region != seg.image).any(axis=2)
    np.testing.assert_array_equal(changed, LABELS >= 0)
    panel = canvas[:, 6:]
    for category in seg.categories:  # each category's swatch is drawn in the legend
        assert (panel == category_color(category.wnid)).all(axis=2).sum() >= 4
    np.testing.assert_array_equal(canvas[4:, :6], 255)  # below a short image: white, no legend


def test_overlay_alpha_zero_is_the_original(vocabulary: Vocabulary) -> None:
    seg = make(vocabulary)
    np.testing.assert_array_equal(np.asarray(seg.overlay(alpha=0.0))[:4, :6], seg.image)
    np.testing.assert_array_equal(
        np.asarray(seg.overlay(alpha=1.0))[:4, :6], expected_blend(seg, 1.0)
    )
    with pytest.raises(ValueError, match=r"alpha=1.5 is not in \[0, 1\]"):
        seg.overlay(alpha=1.5)


def test_overlay_of_a_large_image_keeps_it_whole(vocabulary: Vocabulary) -> None:
    labels = np.zeros((300, 200), dtype=np.int32)
    labels[150:] = 1
    seg = make(vocabulary, labels=labels, wnids=(AIREDALE, TABBY))
    canvas = np.asarray(seg.overlay())
    assert canvas.shape[0] == 300 and canvas.shape[1] > 200
    np.testing.assert_array_equal(canvas[:, :200], expected_blend(seg, 0.5))


def test_legend_sorted_by_area_and_capped(vocabulary: Vocabulary) -> None:
    seg = make(vocabulary)
    rows = legend_lines(seg.categories, np.array([4, 4, 6, 6]))
    assert rows == [
        (TABBY, "tabby.n.01 (tabby) 30.0%"),
        (VOLCANO, "volcano.n.02 (volcano) 30.0%"),
        (AIREDALE, "airedale.n.01 (Airedale) 20.0%"),
        (GREYHOUND, "italian_greyhound.n.01 (Italian greyhound) 20.0%"),
    ]
    many = [vocabulary.categories[i] for i in range(LEGEND_ENTRIES + 5)]
    rows = legend_lines(many, np.arange(1, LEGEND_ENTRIES + 6))
    assert len(rows) == LEGEND_ENTRIES + 1
    assert rows[0][0] == many[-1].wnid
    assert rows[-1] == ("", "and 5 more")
    assert legend_lines(seg.categories, np.zeros(4, dtype=int)) == [("", "no labeled pixels")]


def test_legend_gives_shares_of_the_whole_image_with_unlabeled(vocabulary: Vocabulary) -> None:
    """Open mode: 8 x 10 = 80 pixels, 20 tabby, 12 Airedale, 48 unlabeled (-1)."""
    labels = np.full((8, 10), -1, dtype=np.int32)
    labels[:2] = 1  # 20 pixels
    labels[2:4, :6] = 0  # 12 pixels
    seg = make(vocabulary, labels=labels, wnids=(AIREDALE, TABBY))
    counts = np.bincount(labels[labels >= 0], minlength=2)
    assert legend_lines(seg.categories, counts, labels.size) == [
        (TABBY, "tabby.n.01 (tabby) 25.0%"),
        (AIREDALE, "airedale.n.01 (Airedale) 15.0%"),
        ("", "unlabeled 60.0%"),
    ]
    nothing = np.zeros(2, dtype=int)
    assert legend_lines(seg.categories, nothing, 80) == [
        ("", "no labeled pixels"),
        ("", "unlabeled 100.0%"),
    ]
    # the overlay draws those rows: its legend panel (font 12 px, rows of 18 px, 6 px
    # padding) is 3 rows tall, 2 once every pixel is labelled
    assert seg.overlay().height == 2 * 6 + 3 * 18
    closed = make(vocabulary, labels=np.maximum(labels, 0), wnids=(AIREDALE, TABBY))
    assert closed.overlay().height == 2 * 6 + 2 * 18


def test_many_categories_legend_grows_the_canvas_below(vocabulary: Vocabulary) -> None:
    labels = np.arange(30, dtype=np.int32).reshape(5, 6)
    wnids = tuple(c.wnid for c in vocabulary.categories[:30])
    canvas = np.asarray(make(vocabulary, labels=labels, wnids=wnids).overlay())
    assert canvas.shape[0] > 5 * (LEGEND_ENTRIES + 1)  # 21 rows of at least 12 px text


def test_one_pixel_and_unlabeled_images(vocabulary: Vocabulary) -> None:
    seg = make(vocabulary, labels=np.array([[-1]], dtype=np.int32), wnids=())
    canvas = np.asarray(seg.overlay())
    assert canvas.shape[0] > 1 and canvas.shape[1] > 1
    np.testing.assert_array_equal(canvas[0, 0], seg.image[0, 0])
    assert seg.pixel_counts() == {}
    np.testing.assert_array_equal(seg.mask("dog.n.01"), [[False]])


def test_category_colors_are_fixed_and_distinct() -> None:
    assert category_color("n02084071") == category_color("n02084071")
    assert category_color("n02084071") == (34, 211, 145)
    colors = {category_color(f"n{i:08d}") for i in range(200)}
    assert len(colors) == 200


def test_overlay_without_legend_is_the_tinted_input_at_its_own_size(
    vocabulary: Vocabulary,
) -> None:
    seg = make(vocabulary)
    bare = seg.overlay(alpha=0.7, legend=False)
    assert bare.mode == "RGB" and bare.size == (6, 4)
    np.testing.assert_array_equal(np.asarray(bare), expected_blend(seg, 0.7))
    np.testing.assert_array_equal(np.asarray(seg.overlay(alpha=0.7))[:4, :6], np.asarray(bare))


# ---------------------------------------------------------------- other libraries' formats

# What transformers' image-segmentation pipeline documents for each segment (its
# `ImageSegmentationPipeline.__call__` docstring and the semantic branch of `postprocess`):
# "label" (str), "mask" (a PIL image of the input's size, mode "L", values 0 or 255) and
# "score" (optional float; None for semantic models).
PIPELINE_KEYS = {"label", "score", "mask"}


def test_to_pipeline_has_the_transformers_structure(vocabulary: Vocabulary) -> None:
    seg = make(vocabulary)
    segments = seg.to_pipeline()
    assert isinstance(segments, list) and len(segments) == 4
    for segment in segments:
        assert set(segment) == PIPELINE_KEYS
        assert isinstance(segment["label"], str)
        assert segment["score"] is None or isinstance(segment["score"], float)
        mask = segment["mask"]
        assert isinstance(mask, Image.Image) and mask.mode == "L"
        assert mask.size == (seg.width, seg.height)  # PIL size is (width, height)
        assert set(np.unique(np.asarray(mask))) <= {0, 255}


def test_to_pipeline_masks_labels_and_mean_scores(vocabulary: Vocabulary) -> None:
    seg = make(vocabulary)
    segments = seg.to_pipeline()
    assert [s["label"] for s in segments] == [
        "airedale.n.01",
        "italian_greyhound.n.01",
        "tabby.n.01",
        "volcano.n.02",
    ]
    for index, segment in enumerate(segments):
        np.testing.assert_array_equal(np.asarray(segment["mask"]), (index == LABELS) * 255)
        assert segment["score"] == pytest.approx(float(seg.scores[index == LABELS].mean()))
    # unlabeled pixels are in no mask
    union = np.any([np.asarray(s["mask"]) > 0 for s in segments], axis=0)
    np.testing.assert_array_equal(union, LABELS >= 0)


def test_to_pipeline_skips_categories_without_pixels(vocabulary: Vocabulary) -> None:
    seg = make(vocabulary, labels=np.where(LABELS == 1, 0, LABELS))  # no greyhound pixels
    assert [s["label"] for s in seg.to_pipeline()] == [
        "airedale.n.01",
        "tabby.n.01",
        "volcano.n.02",
    ]


def test_to_supervision_detections_and_a_mask_annotator(vocabulary: Vocabulary) -> None:
    sv = pytest.importorskip("supervision")
    seg = make(vocabulary, labels=np.where(LABELS == 1, 0, LABELS))  # greyhound: no pixels
    detections = seg.to_supervision()
    assert isinstance(detections, sv.Detections) and len(detections) == 3
    np.testing.assert_array_equal(detections.class_id, [0, 2, 3])
    np.testing.assert_array_equal(
        detections.data["class_name"], ["airedale.n.01", "tabby.n.01", "volcano.n.02"]
    )
    np.testing.assert_array_equal(detections.data["wnid"], [AIREDALE, TABBY, VOLCANO])
    for row, index in enumerate([0, 2, 3]):
        np.testing.assert_array_equal(detections.mask[row], seg.labels == index)
        assert detections.confidence[row] == pytest.approx(seg.scores[seg.labels == index].mean())
    # boxes as (x_min, y_min, x_max, y_max), inclusive pixel corners
    np.testing.assert_array_equal(detections.xyxy, [[0, 0, 3, 1], [0, 2, 2, 3], [3, 2, 5, 3]])
    # an opaque mask annotator paints each mask in its class's palette colour
    palette = sv.ColorPalette.DEFAULT
    drawn = sv.MaskAnnotator(opacity=1.0).annotate(Image.fromarray(seg.image), detections)
    drawn = np.asarray(drawn)
    for row, index in enumerate([0, 2, 3]):
        color = palette.by_idx(index).as_rgb()
        assert (drawn[detections.mask[row]] == color).all()
    np.testing.assert_array_equal(drawn[seg.labels < 0], seg.image[seg.labels < 0])


def test_to_supervision_of_an_unlabeled_image_is_empty(vocabulary: Vocabulary) -> None:
    pytest.importorskip("supervision")
    detections = make(vocabulary, labels=np.full_like(LABELS, -1)).to_supervision()
    assert len(detections) == 0 and detections.mask.shape == (0, 4, 6)


def test_to_supervision_without_the_extra_says_what_to_install(
    vocabulary: Vocabulary, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "supervision", None)  # makes `import supervision` fail
    with pytest.raises(MissingExtraError, match=r'pip install "larvseg\[supervision\]"'):
        make(vocabulary).to_supervision()


# ---------------------------------------------------------------- save


def test_labels_png_of_many_categories_is_16_bit(vocabulary: Vocabulary, tmp_path: Path) -> None:
    labels = np.arange(300, dtype=np.int32).reshape(15, 20) - 1  # -1 and 299 categories
    categories = [vocabulary.categories[i] for i in range(299)]
    png = label_png(labels, categories)
    assert png.mode == "I;16"
    png.save(tmp_path / "labels.png")
    with Image.open(tmp_path / "labels.png") as read:
        np.testing.assert_array_equal(np.asarray(read), labels + 1)


def test_save_round_trips_labels_and_json(vocabulary: Vocabulary, tmp_path: Path) -> None:
    seg = make(vocabulary)
    paths = seg.save(tmp_path / "new" / "dir" / "scene")
    assert paths == {
        "labels": tmp_path / "new" / "dir" / "scene_labels.png",
        "overlay": tmp_path / "new" / "dir" / "scene_overlay.png",
        "json": tmp_path / "new" / "dir" / "scene.json",
    }
    with Image.open(paths["labels"]) as png:
        # a palette PNG: the indices read back, a viewer shows the overlay's colours
        assert png.mode == "P"
        np.testing.assert_array_equal(np.asarray(png), LABELS + 1)
        shown = np.asarray(png.convert("RGB"))
    colors = np.array([(0, 0, 0)] + [category_color(c.wnid) for c in seg.categories])
    np.testing.assert_array_equal(shown, colors[LABELS + 1])
    with Image.open(paths["overlay"]) as png:
        np.testing.assert_array_equal(np.asarray(png), np.asarray(seg.overlay()))
    record = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert {k: record[k] for k in ("source", "height", "width", "unlabeled_pixels")} == {
        "source": "photos/scene.jpg",
        "height": 4,
        "width": 6,
        "unlabeled_pixels": 4,
    }
    assert [(c["index"], c["wnid"], c["pixels"]) for c in record["categories"]] == [
        (1, AIREDALE, 4),
        (2, GREYHOUND, 4),
        (3, TABBY, 6),
        (4, VOLCANO, 6),
    ]
    tabby = vocabulary.resolve(TABBY)
    assert record["categories"][2] == {
        "index": 3,
        "wnid": TABBY,
        "name": "tabby.n.01",
        "lemmas": list(tabby.lemmas),
        "gloss": tabby.gloss,
        "pixels": 6,
    }


def test_save_with_a_string_prefix(vocabulary: Vocabulary, tmp_path: Path) -> None:
    paths = make(vocabulary).save(str(tmp_path / "out"))
    assert all(p.is_file() for p in paths.values())
    assert paths["labels"].name == "out_labels.png"
