"""The packaged WordNet table against nltk's WordNet 3.0: names, parents, closures.

Needs WordNet 3.0 for nltk (`scripts/install_wordnet.sh DIR`, then `NLTK_DATA=DIR`).
Where it is missing these tests skip locally and fail in CI (env var `CI` set).
"""

from __future__ import annotations

import random
import warnings
from typing import Any

import pytest
from timm.data import ImageNetInfo

from larvseg.vocab.table import (
    LIST_NAMES,
    WordNetTable,
    noun_exceptions,
    sense_numbers,
    synset_record,
    synset_wnid,
    synsets_with_ancestors,
)
from larvseg.vocab.vocabulary import Vocabulary, VocabularyError

NAMED = ["dog.n.01", "animal.n.01", "instrumentality.n.03", "entity.n.01"]
MOON = "n09358358"  # moon.n.01: a WordNet noun outside the table


@pytest.fixture(scope="module")
def table() -> WordNetTable:
    return WordNetTable.packaged()


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.imagenet21k()


def _synset(wordnet: Any, wnid: str) -> Any:
    return wordnet.synset_from_pos_and_offset("n", int(wnid[1:]))


def _hyponym_closure(synset: Any) -> set[str]:
    below = synset.closure(lambda s: s.hyponyms() + s.instance_hyponyms())
    return {synset_wnid(synset)} | {synset_wnid(s) for s in below}


def _hypernym_closure(synset: Any) -> set[str]:
    above = synset.closure(lambda s: s.hypernyms() + s.instance_hypernyms())
    return {synset_wnid(synset)} | {synset_wnid(s) for s in above}


def test_wordnet_is_3_0(wordnet: Any) -> None:
    assert wordnet.get_version() == "3.0"
    assert wordnet.synset("dog.n.01").offset() == 2084071


def test_table_is_timms_lists_and_all_their_ancestors(wordnet: Any, table: WordNetTable) -> None:
    subsets = {"imagenet21k_goog": "imagenet-21k-goog", "imagenet1k": "imagenet-1k"}
    subsets |= {"imagenet22k": "imagenet-22k", "imagenet12k": "imagenet-12k"}
    assert set(subsets) == set(LIST_NAMES)
    lists = {name: list(ImageNetInfo(subset).label_names()) for name, subset in subsets.items()}
    assert table.lists == lists
    synsets, missing = synsets_with_ancestors(wordnet, set().union(*lists.values()))
    assert missing == []
    assert set(synsets) == set(table.rows)


def test_every_row_matches_nltk(wordnet: Any, table: WordNetTable) -> None:
    """wnid, name, lemmas, gloss and parents (hypernyms + instance hypernyms)."""
    wrong = [c for c in table.records if synset_record(_synset(wordnet, c.wnid)) != c]
    assert wrong == []


def test_other_nouns_are_every_other_wordnet_noun(wordnet: Any, table: WordNetTable) -> None:
    """The second packaged table is up to date: all of WordNet 3.0's nouns outside the
    first, each row (a sample's sense numbers too) as nltk gives it; and the irregular
    noun forms are nltk's (regenerate with scripts/build_vocabulary_table.py)."""
    others = WordNetTable.other_nouns()
    every = {synset_wnid(s) for s in wordnet.all_synsets("n")}
    assert set(others.rows) == every - set(table.rows) and not set(others.rows) & set(table.rows)
    wrong = [c for c in others.records if synset_record(_synset(wordnet, c.wnid)) != c]
    assert wrong == []
    rows = random.Random(0).sample(range(len(others)), 1500)
    synsets = {r: _synset(wordnet, others.records[r].wnid) for r in rows}
    assert all(list(others.senses(r)) == sense_numbers(wordnet, synsets[r]) for r in rows)
    wordnet.ensure_loaded()
    assert noun_exceptions() == {k: tuple(v) for k, v in wordnet._exception_map["n"].items()}


def test_sense_numbers_match_nltk(wordnet: Any, table: WordNetTable) -> None:
    rows = random.Random(0).sample(range(len(table)), 1500)
    wrong = [
        table.records[r].name
        for r in rows
        if list(table.senses(r)) != sense_numbers(wordnet, _synset(wordnet, table.records[r].wnid))
    ]
    assert wrong == []


def test_words_resolve_to_nltks_first_sense_in_the_table(
    wordnet: Any, table: WordNetTable, vocab: Vocabulary
) -> None:
    words = [*random.Random(0).sample(sorted(table.lemma_keys()), 1500), "dogs", "mice"]
    wrong = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for word in words:
            senses = [synset_wnid(s) for s in wordnet.synsets(word, pos="n")]
            expected = next(w for w in senses if w in table.rows)
            if vocab.resolve(word).wnid != expected:
                wrong.append(word)
    assert wrong == []


@pytest.mark.parametrize("item", NAMED)
def test_members_of_named_synsets_equal_nltk_closure(
    wordnet: Any, vocab: Vocabulary, item: str
) -> None:
    _check_members(vocab, wordnet.synset(item))


def test_members_of_random_synsets_equal_nltk_closure(
    wordnet: Any, table: WordNetTable, vocab: Vocabulary
) -> None:
    for category in random.Random(150).sample(table.records, 150):
        _check_members(vocab, _synset(wordnet, category.wnid))


def _check_members(vocab: Vocabulary, synset: Any) -> None:
    below = _hyponym_closure(synset)
    expected = [c.wnid for c in vocab.categories if c.wnid in below]
    if expected:
        assert vocab.members(synset.name()) == expected, synset.name()
    else:
        with pytest.raises(VocabularyError, match="covers none"):
            vocab.members(synset.name())


def test_ancestors_and_depth_equal_nltk(
    wordnet: Any, table: WordNetTable, vocab: Vocabulary
) -> None:
    for category in random.Random(7).sample(table.records, 300):
        synset = _synset(wordnet, category.wnid)
        assert vocab.ancestors(category.wnid) == _hypernym_closure(synset), category.name
        assert table.closure.depth[table.rows[category.wnid]] == synset.max_depth()


def test_nltk_resolves_synsets_outside_the_table(wordnet: Any, vocab: Vocabulary) -> None:
    moon = vocab.resolve("moon.n.01")
    assert (moon.wnid, moon.name) == (MOON, "moon.n.01")
    assert vocab.resolve(MOON) == moon
    assert vocab.resolve(wordnet.synset("moon.n.01")) == moon
    assert vocab.ancestors(moon) == _hypernym_closure(wordnet.synset("moon.n.01"))
    with pytest.raises(
        VocabularyError, match=r"moon\.n\.01 \(n09358358\) covers none of this model's 21,843"
    ):
        vocab.members("moon.n.01")
    assert vocab.resolve(wordnet.synset("dog.n.01")) is vocab.resolve("dog.n.01")
    with pytest.raises(VocabularyError, match=r"unknown synset dog\.n\.09"):
        vocab.resolve("dog.n.09")


def test_vocabulary_beyond_the_table_uses_nltk(wordnet: Any) -> None:
    vocab = Vocabulary(["n02084071", MOON])
    assert vocab.categories[1].name == "moon.n.01"
    assert vocab.members("natural_object.n.01") == [MOON]
    assert vocab.members("entity.n.01") == ["n02084071", MOON]
    assert vocab.subset(["object.n.01", "moon.n.01"]).assignment.tolist() == [0, 1]
    with pytest.raises(VocabularyError, match="n99999999"):
        Vocabulary(["n02084071", "n99999999"])
