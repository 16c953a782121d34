"""What the demo shows, without a browser: suggestions, the legend and the confidence map."""

from __future__ import annotations

import numpy as np
import pytest

from larvseg.demo.results import (
    CONFIDENCE_COLORS,
    confidence_image,
    last_term,
    legend_html,
    parse_vocab,
    replace_last_term,
    suggestions,
)
from larvseg.overlay import category_color
from larvseg.result import Segmentation
from larvseg.vocab.vocabulary import Vocabulary

WNIDS = ["n02084071", "n02121808", "n01503061", "n03791053", "n12102133"]


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    """The tiny test model's vocabulary: dog, domestic cat, bird, motor scooter, grass."""
    return Vocabulary(WNIDS)


def test_typed_vocabulary_is_split_on_commas_semicolons_and_lines() -> None:
    assert parse_vocab(" dog.n.01, snow.n.01 ;\nn02084071,, ") == [
        "dog.n.01",
        "snow.n.01",
        "n02084071",
    ]
    assert parse_vocab(" , \n") is None
    assert last_term("dog.n.01, gra") == "gra"
    assert last_term("dog.n.01, ") == ""


def test_picking_a_suggestion_replaces_the_word_being_typed() -> None:
    assert replace_last_term("dog.n.01, gra", "grass.n.01") == "dog.n.01, grass.n.01, "
    assert replace_last_term("dog.n.01, ", "grass.n.01") == "dog.n.01, grass.n.01, "
    assert replace_last_term("", "dog.n.01") == "dog.n.01, "


def test_suggestions_cover_model_categories_and_show_the_gloss(vocabulary: Vocabulary) -> None:
    rows = suggestions(vocabulary, "cat.n.01, dog")
    # WordNet has many synsets with "dog" in a lemma; only dog.n.01 covers a category here
    assert rows == [
        [
            "dog.n.01",
            "dog, domestic dog, Canis familiaris",
            "1",
            "a member of the genus Canis (probably descended from the common wolf) that has "
            "been domesticated by man since prehistoric times; occurs in many breeds",
        ]
    ]
    animals = suggestions(vocabulary, "animal")
    assert animals[0][:3] == [
        "animal.n.01",
        "animal, animate being, beast, brute, creature, fauna",
        "3",
    ]
    assert suggestions(vocabulary, "dog.n.01, ") == []
    # a synset name shows that synset (with its gloss) first
    named = suggestions(vocabulary, "dog.n.01, grass.n.01")
    assert named[0][0] == "grass.n.01" and named[0][3].startswith("narrow-leaved green herbage")


def make(vocabulary: Vocabulary) -> Segmentation:
    labels = np.array([[0, 0, 1, -1], [0, 0, 1, -1]], dtype=np.int32)
    scores = np.array([[0.2, 0.4, 0.9, 0.5], [0.6, 0.8, 0.7, 0.1]], dtype=np.float32)
    categories = [vocabulary.resolve("n12102133"), vocabulary.resolve("n02084071")]
    image = np.zeros((2, 4, 3), dtype=np.uint8)
    return Segmentation(labels, scores, categories, image, vocabulary)


def test_legend_rows_by_area_with_share_pixels_and_mean_confidence(
    vocabulary: Vocabulary,
) -> None:
    html = legend_html(make(vocabulary))
    rows = html.split("<tr>")[2:]  # [0]: before the table, [1]: the header
    assert len(rows) == 3
    assert "<b>grass.n.01</b>" in rows[0] and "50.0%" in rows[0] and "<td>0.50</td>" in rows[0]
    assert "<b>dog.n.01</b>" in rows[1] and "25.0%" in rows[1] and "<td>0.80</td>" in rows[1]
    assert "unlabeled" in rows[2] and "25.0%" in rows[2] and "<td>2</td>" in rows[2]
    red, green, blue = category_color("n12102133")
    assert f"rgb({red}, {green}, {blue})" in rows[0]


def test_confidence_image_maps_0_half_and_1_to_the_three_colours(vocabulary: Vocabulary) -> None:
    seg = make(vocabulary)
    seg.scores = np.array([[0, 0.5, 1, 1], [0, 0.5, 1, 1]], dtype=np.float32)
    pixels = np.asarray(confidence_image(seg))
    assert pixels.shape == (2, 4, 3)
    for column, color in zip([0, 1, 2], CONFIDENCE_COLORS, strict=True):
        expected = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
        np.testing.assert_allclose(pixels[0, column], expected, atol=2)
