"""larvseg.Vocabulary from the packaged table alone; tests taking the `wordnet` fixture
also need nltk's WordNet 3.0 (they skip without it, and fail in CI)."""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
import textwrap
import warnings
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pytest
from timm.data import ImageNetInfo

from larvseg.cli.main import main
from larvseg.vocab.table import TABLE_RESOURCE, WordNetTable
from larvseg.vocab.vocabulary import (
    Category,
    SearchHit,
    SenseWarning,
    Vocabulary,
    VocabularyError,
    VocabularySubset,
)

DOG = "n02084071"
ITALIAN_GREYHOUND = "n02091032"
CANINE = "n02083346"  # canine.n.02, one parent of dog.n.01
DOMESTIC_ANIMAL = "n01317541"  # domestic_animal.n.01, the other
TEDDY = "n04399382"  # teddy.n.01: an ImageNet-1K class missing from the 21K list


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.imagenet21k()


class FakeSynset:
    """Duck-typed stand-in for an nltk Synset (no corpus needed)."""

    def __init__(self, offset: int, pos: str = "n", name: str = "dog.n.01") -> None:
        self._offset, self._pos, self._name = offset, pos, name

    def offset(self) -> int:
        return self._offset

    def pos(self) -> str:
        return self._pos

    def name(self) -> str:
        return self._name


def test_imagenet21k_is_timms_goog_list_and_cached(vocab: Vocabulary) -> None:
    expected = list(ImageNetInfo("imagenet-21k-goog").label_names())
    assert len(vocab) == 21_843
    assert [c.wnid for c in vocab.categories] == expected
    assert Vocabulary.imagenet21k() is vocab
    assert vocab.index(DOG) == expected.index(DOG)


def test_table_ships_compressed_in_the_package() -> None:
    table = resources.files("larvseg").joinpath(TABLE_RESOURCE)
    assert TABLE_RESOURCE.endswith(".gz")
    assert len(table.read_bytes()) < 3_000_000
    assert len(WordNetTable.packaged()) == 23_548


@pytest.mark.parametrize("subset", ["imagenet-22k", "imagenet-12k", "imagenet-1k"])
def test_table_holds_timms_other_lists_in_order(subset: str) -> None:
    column = subset.replace("-", "")
    assert WordNetTable.packaged().lists[column] == list(ImageNetInfo(subset).label_names())


def test_category_fields(vocab: Vocabulary) -> None:
    dog = vocab.resolve(DOG)
    assert dog == Category(
        wnid=DOG,
        name="dog.n.01",
        lemmas=("dog", "domestic_dog", "Canis_familiaris"),
        gloss=dog.gloss,
        parents=(DOMESTIC_ANIMAL, CANINE),
    )
    assert dog.gloss.startswith("a member of the genus Canis")
    assert str(dog) == "dog.n.01 (n02084071)"
    assert vocab.categories[vocab.index(DOG)] is dog


@pytest.mark.parametrize(
    "item",
    [
        "dog.n.01",
        "Dog.N.01",
        "dog.n.1",
        "domestic_dog.n.01",
        DOG,
        " n02084071 ",
        "domestic dog",
        "Canis_familiaris",
        FakeSynset(2084071),
    ],
)
def test_resolve_forms(vocab: Vocabulary, item: object) -> None:
    assert vocab.resolve(item).wnid == DOG


def test_resolve_category_returns_the_table_record(vocab: Vocabulary) -> None:
    dog = vocab.resolve(DOG)
    assert vocab.resolve(Category(DOG, "x", (), "", ())) is dog


def test_plain_word_takes_first_sense_and_says_so(vocab: Vocabulary) -> None:
    with pytest.warns(SenseWarning, match=r"'dog' read as dog\.n\.01 .*andiron\.n\.01"):
        assert vocab.resolve("dog").wnid == DOG
    with pytest.warns(SenseWarning):
        assert vocab.resolve("dogs").wnid == DOG  # nltk's noun rules: dogs -> dog
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert vocab.resolve("Italian greyhound").wnid == ITALIAN_GREYHOUND
        assert vocab.resolve("dog.n.01").wnid == DOG


def test_resolve_ancestor_that_is_no_model_class(vocab: Vocabulary) -> None:
    living_thing = vocab.resolve("living_thing.n.01")
    assert living_thing.wnid == "n00004258"
    assert living_thing.parents == ("n00003553",)  # whole.n.02
    with pytest.raises(VocabularyError, match="n00004258 is not one of this model's 21,843"):
        vocab.index("n00004258")
    assert len(vocab.members(living_thing)) > 10_000


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("dgo.n.01", r"unknown synset dgo\.n\.01; did you mean .*dog\.n\.01"),
        ("dog.n.09", r"unknown synset dog\.n\.09; 'dog' has these senses: dog\.n\.01"),
        ("dgo", r"unknown word 'dgo'.*did you mean dingo"),
        ("dog.n.0", r"unknown word 'dog\.n\.0'"),
        ("run.v.01", r"run\.v\.01 is a verb synset"),
        (FakeSynset(1, "v", "run.v.01"), r"run\.v\.01 is not a noun synset"),
        (42, r"cannot read 42 as a synset"),
    ],
)
def test_resolve_errors_name_the_input(vocab: Vocabulary, item: object, message: str) -> None:
    with pytest.raises(VocabularyError, match=message):
        vocab.resolve(item)


def test_members_of_dog(vocab: Vocabulary) -> None:
    members = vocab.members("dog.n.01")
    assert ITALIAN_GREYHOUND in members
    assert DOG in members
    indices = vocab.member_indices("dog.n.01")
    assert indices.dtype == np.int64
    assert np.all(np.diff(indices) > 0)
    assert members == [vocab.categories[i].wnid for i in indices]
    assert all(DOG in vocab.ancestors(w) for w in members)
    outside = set(vocab._index) - set(members)
    assert not any(DOG in vocab.ancestors(w) for w in random.Random(0).sample(sorted(outside), 500))


def test_members_of_entity_is_everything(vocab: Vocabulary) -> None:
    assert vocab.members("entity.n.01") == [c.wnid for c in vocab.categories]


def test_members_error_when_none_covered(vocab: Vocabulary) -> None:
    with pytest.raises(
        VocabularyError, match=r"teddy\.n\.01 \(n04399382\) covers none of this model's 21,843"
    ):
        vocab.members(TEDDY)


def test_ancestors_follow_every_path(vocab: Vocabulary) -> None:
    ancestors = vocab.ancestors("dog.n.01")
    assert {DOG, CANINE, DOMESTIC_ANIMAL, "n00001740"} <= ancestors
    assert vocab.ancestors("entity.n.01") == frozenset({"n00001740"})


def test_custom_vocabulary() -> None:
    bird = "n01503061"
    vocab = Vocabulary([bird, ITALIAN_GREYHOUND, DOG])
    assert len(vocab) == 3
    assert vocab.index(DOG) == 2
    assert vocab.members("dog.n.01") == [ITALIAN_GREYHOUND, DOG]
    assert vocab.members("animal.n.01") == [bird, ITALIAN_GREYHOUND, DOG]
    assert vocab.search("dog", limit=1)[0].covered == 2
    with pytest.raises(
        VocabularyError, match=r"teddy\.n\.01 \(n04399382\) covers none of this model's 3 "
    ):
        vocab.members(TEDDY)


@pytest.mark.parametrize(
    ("wnids", "message"),
    [
        ([], "empty vocabulary"),
        ([DOG, ITALIAN_GREYHOUND, DOG], "more than once: n02084071"),
        ([DOG, "n99999999"], "n99999999"),
        ([DOG, "dog"], r": dog\b"),
    ],
)
def test_vocabulary_errors(wnids: list[str], message: str) -> None:
    with pytest.raises(VocabularyError, match=message):
        Vocabulary(wnids)


def test_subset_goes_to_the_more_specific_item(vocab: Vocabulary) -> None:
    with pytest.warns(SenseWarning):
        subset = vocab.subset(["animal.n.01", "dog", "dog.n.01", "artifact.n.01"])
    assert isinstance(subset, VocabularySubset)
    assert [c.name for c in subset.items] == ["animal.n.01", "dog.n.01", "artifact.n.01"]
    assert subset.assignment.shape == (21_843,) and subset.assignment.dtype == np.int64
    dogs = vocab.member_indices("dog.n.01")
    animals = vocab.member_indices("animal.n.01")
    assert np.all(subset.assignment[dogs] == 1)
    assert np.all(subset.assignment[np.setdiff1d(animals, dogs)] == 0)
    assert subset.assignment[vocab.index(ITALIAN_GREYHOUND)] == 1
    assert np.all(subset.assignment[vocab.member_indices("artifact.n.01")] == 2)
    assert subset.assignment[vocab.index("n00006484")] == -1  # cell.n.02: none of them


def test_subset_single_item_and_errors(vocab: Vocabulary) -> None:
    assert vocab.subset("dog.n.01").items == [vocab.resolve(DOG)]
    with pytest.raises(VocabularyError, match="empty vocabulary"):
        vocab.subset([])
    with pytest.raises(VocabularyError, match=r"teddy\.n\.01 \(n04399382\) covers none"):
        vocab.subset(["dog.n.01", TEDDY])


def _max_depths() -> dict[str, int]:
    """Longest hypernym path to the root of every table synset, by plain recursion."""
    records = {c.wnid: c for c in WordNetTable.packaged().records}

    @cache
    def depth(wnid: str) -> int:
        return max((depth(p) + 1 for p in records[wnid].parents), default=0)

    return {wnid: depth(wnid) for wnid in records}


def test_subset_matches_brute_force(vocab: Vocabulary) -> None:
    depth = _max_depths()
    items = [*random.Random(1).sample(sorted(depth), 300), "entity.n.01"]
    items = [w for w in dict.fromkeys(vocab.resolve(i).wnid for i in items) if w != TEDDY]
    subset = vocab.subset(items)
    rank = {w: k for k, w in enumerate(items)}
    for c, category in enumerate(vocab.categories):
        under = [w for w in vocab.ancestors(category.wnid) if w in rank]
        best = max(under, key=lambda w: (depth[w], -rank[w]))
        assert subset.assignment[c] == rank[best]


def test_search_ranks_senses_then_lemmas_then_glosses(vocab: Vocabulary) -> None:
    hits = vocab.search("dog", wordnet=False)
    assert len(hits) == 20
    assert [h.category.name for h in hits[:2]] == ["dog.n.01", "andiron.n.01"]
    assert hits[0].covered == len(vocab.members("dog.n.01")) and hits[0].nearest is None
    names = [h.category.name for h in hits]
    assert "hunting_dog.n.01" in names
    # ties (same tier, same coverage) go by name
    assert [str(h) for h in vocab.search("greyhound", limit=4, wordnet=False)] == [
        "greyhound.n.01 (n02090827) covers 3",
        "greyhound_racing.n.01 (n00449977) covers 1",
        "italian_greyhound.n.01 (n02091032) covers 1",
        "whippet.n.01 (n02091134) covers 1",  # gloss: "small slender dog of greyhound type"
    ]
    assert vocab.search("zzzzqx", wordnet=False) == []


def test_search_hit_covering_nothing_names_its_nearest_covering_hypernym() -> None:
    vocab = Vocabulary(["n01503061", ITALIAN_GREYHOUND, DOG])  # bird, italian greyhound, dog
    teddy = vocab.search("teddy bear", limit=1, wordnet=False)[0]
    # teddy -> plaything -> artifact -> whole.n.02, which also holds organism -> animal -> ...
    assert teddy == SearchHit(vocab.resolve(TEDDY), 0, SearchHit(vocab.resolve("whole.n.02"), 3))
    assert str(teddy) == (
        "teddy.n.01 (n04399382) covers 0; nearest covering: whole.n.02 (n00003553) covers 3"
    )
    assert vocab.nearest_covering("dog.n.01") == SearchHit(vocab.resolve(DOG), 2)


def test_search_finds_wordnet_synsets_outside_the_table(vocab: Vocabulary, wordnet: Any) -> None:
    assert vocab.search("bicyclist", wordnet=False) == []
    [hit] = vocab.search("bicyclist")
    assert hit.category.name == "cyclist.n.01" and "bicyclist" in hit.category.lemmas
    assert hit.category.wnid not in WordNetTable.packaged().rows and hit.covered == 0
    assert str(hit.nearest) == "pedaler.n.01 (n10411163) covers 1"
    # every noun sense of the word, in WordNet order, the table's and the others
    senses = [s.name() for s in wordnet.synsets("dog", pos="n")]
    hits = vocab.search("dog", limit=len(senses) + 1)
    assert [h.category.name for h in hits[: len(senses)]] == senses
    assert [h.covered for h in hits[:3]] == [190, 0, 0]
    assert hits[1].nearest == vocab.nearest_covering("frump.n.01")


def _nearest_by_paths(vocab: Vocabulary, synset: Any) -> set[tuple[str, int]]:
    """(name, covered) of the covering hypernyms fewest steps up, from nltk's root paths."""
    steps: dict[str, int] = {}
    for path in synset.hypernym_paths():  # root ... synset, instance hypernyms included
        for up, ancestor in enumerate(reversed(path)):
            steps[ancestor.name()] = min(steps.get(ancestor.name(), up), up)
    covered = {}
    for name in steps:
        with contextlib.suppress(VocabularyError):  # covers none
            covered[name] = len(vocab.members(name))
    fewest = min(steps[name] for name in covered)
    return {(name, n) for name, n in covered.items() if steps[name] == fewest}


def test_nearest_covering_matches_nltk_hypernym_paths(vocab: Vocabulary, wordnet: Any) -> None:
    lemmas = sorted(wordnet.all_lemma_names(pos="n"))
    for lemma in random.Random(0).sample(lemmas, 40):
        synset = wordnet.lemmas(lemma, pos="n")[0].synset()
        nearest = vocab.nearest_covering(synset)
        candidates = _nearest_by_paths(vocab, synset)
        assert (nearest.category.name, nearest.covered) == min(candidates, key=lambda c: c[::-1])
    with pytest.raises(VocabularyError, match="empty search"):
        vocab.search("  ")


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_search(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run_cli(["vocab", "search", "dog", "--limit", "3"], capsys)
    lines = [line for line in out.splitlines() if "nearest covering hypernym" not in line]
    assert code == 0 and len(lines) == 3
    assert lines[0].split()[:3] == ["dog.n.01", DOG, "190"]


def test_cli_search_outside_the_table(wordnet: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run_cli(["vocab", "search", "bicyclist"], capsys)
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "cyclist.n.01  n09986189       0  a person who rides a bicycle",
        "              nearest covering hypernym: pedaler.n.01 (n10411163) covers 1",
    ]


def test_search_and_resolution_never_need_nltk() -> None:
    """With nltk unimportable, search still finds synsets outside the table, a word
    outside it resolves, and a mistyped synset gets its suggestions."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["nltk"] = None  # any import of nltk fails
        from larvseg.cli.main import main
        from larvseg import Vocabulary
        main(["vocab", "search", "bicyclist"])
        vocab = Vocabulary.imagenet21k()
        print(vocab.resolve("bicyclist"), vocab.resolve("mice"))
        main(["vocab", "show", "dgo.n.01"])
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.stdout.splitlines() == [
        "cyclist.n.01  n09986189       0  a person who rides a bicycle",
        "              nearest covering hypernym: pedaler.n.01 (n10411163) covers 1",
        "cyclist.n.01 (n09986189) mouse.n.01 (n02330245)",
    ]
    assert "larvseg: unknown synset dgo.n.01; did you mean dingo.n.01" in run.stderr


def test_cli_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run_cli(["vocab", "show", "dog"], capsys)
    assert code == 0
    assert out.startswith("dog.n.01 (n02084071)\n")
    assert "parents: domestic_animal.n.01 (n01317541), canine.n.02 (n02083346)\n" in out
    assert "covers 190 of the model's 21,843 categories" in out
    assert "... and 180 more" in out
    assert "larvseg: 'dog' read as dog.n.01" in err


def test_cli_error_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run_cli(["vocab", "show", "dgo.n.01"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "dgo.n.01" in err
