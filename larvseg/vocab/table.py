"""The WordNet 3.0 noun table shipped with larvseg, and its hypernym graph.

`data/wordnet_nouns.tsv.gz` holds every wnid of timm's ImageNet class lists and all of
their WordNet 3.0 ancestors, so that nothing at run time needs the WordNet corpus.
`data/wordnet_other_nouns.tsv.gz` holds every other WordNet 3.0 noun synset (the same
columns, no class lists), for search and resolution beyond the model's classes;
`data/wordnet_noun_exceptions.tsv.gz` WordNet's irregular noun forms ("mice<TAB>mouse").
`scripts/build_vocabulary_table.py` regenerates both from nltk. One row per synset, tab
separated, with a header row naming the columns:

- `wnid`: "n" + the 8-digit WordNet 3.0 offset ("n02084071")
- `name`: the synset name as nltk gives it ("dog.n.01")
- `lemmas`: space-separated lemma names ("dog domestic_dog Canis_familiaris")
- `senses`: for each lemma, this synset's 1-based sense number among that lemma's
  noun senses, in WordNet order ("1 1 1"); a plain word means its lowest sense
- `parents`: space-separated wnids of direct hypernyms and instance hypernyms, sorted
- `gloss`: the definition
- one column per class list (`imagenet21k_goog`, ...): the synset's class index in
  that list, empty where it is not a class of the list
"""

from __future__ import annotations

import gzip
import itertools
import re
import warnings
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

import numpy as np

TABLE_RESOURCE = "vocab/data/wordnet_nouns.tsv.gz"
OTHER_NOUNS_RESOURCE = "vocab/data/wordnet_other_nouns.tsv.gz"
NOUN_EXCEPTIONS_RESOURCE = "vocab/data/wordnet_noun_exceptions.tsv.gz"
COLUMNS = ("wnid", "name", "lemmas", "senses", "parents", "gloss")
LIST_NAMES = ("imagenet21k_goog", "imagenet22k", "imagenet12k", "imagenet1k")
WNID = re.compile(r"n\d{8}")


@dataclass(frozen=True)
class Category:
    """A WordNet 3.0 noun synset: a model category or one of its ancestors.

    Attributes:
        wnid: "n" + 8-digit WordNet 3.0 offset, e.g. "n02084071".
        name: nltk's synset name, e.g. "dog.n.01".
        lemmas: lemma names, e.g. ("dog", "domestic_dog", "Canis_familiaris").
        gloss: the WordNet definition.
        parents: wnids of the direct hypernyms and instance hypernyms, sorted.
    """

    wnid: str
    name: str
    lemmas: tuple[str, ...]
    gloss: str
    parents: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.name} ({self.wnid})"


@dataclass(frozen=True)
class Closure:
    """Every row's ancestors (itself included, over every hypernym path), as CSR arrays.

    Row `r`'s ancestors are `indices[indptr[r]:indptr[r + 1]]`; `depth[r]` is the length
    of the longest hypernym path from `r` to a root (0 for `entity.n.01`).
    """

    indptr: np.ndarray
    indices: np.ndarray
    depth: np.ndarray


def wnid_positions(categories: Sequence[str], wnids: Sequence[str | None]) -> np.ndarray:
    """Index of each of `wnids` in `categories` (a class list), -1 where absent or None.

    Returns `(len(wnids),)` int64; the one wnid -> class-index map of larvseg.
    """
    index = {wnid: i for i, wnid in enumerate(categories)}
    return np.array([index.get(w, -1) if w else -1 for w in wnids], dtype=np.int64)


def missing_wnids(positions: np.ndarray, wnids: Sequence[str | None]) -> list[str]:
    """The wnids that `wnid_positions` did not find (None entries are not listed)."""
    return [w for w, i in zip(wnids, positions.tolist(), strict=True) if w and i < 0]


def lemma_key(text: str) -> str:
    """How lemmas are matched: case-insensitive, with spaces read as underscores."""
    return "_".join(text.strip().lower().split())


def synset_wnid(synset: Any) -> str:
    """ImageNet id ("n" + 8-digit offset) of an nltk noun Synset."""
    return f"n{synset.offset():08d}"


def synset_record(synset: Any) -> Category:
    """The table record of an nltk noun Synset."""
    return Category(
        wnid=synset_wnid(synset),
        name=synset.name(),
        lemmas=tuple(synset.lemma_names()),
        gloss=synset.definition(),
        # sorted: nltk keeps pointers in a set, so its order changes from run to run
        parents=tuple(
            sorted(synset_wnid(p) for p in synset.hypernyms() + synset.instance_hypernyms())
        ),
    )


def sense_numbers(wordnet: Any, synset: Any) -> list[int]:
    """For each lemma of `synset`, its 1-based rank among that lemma's noun senses."""
    return [
        [s.offset() for s in wordnet.synsets(lemma, pos="n")].index(synset.offset()) + 1
        for lemma in synset.lemma_names()
    ]


def noun_synset(wordnet: Any, wnid: str) -> Any | None:
    """nltk's Synset for a wnid, or None where WordNet has no noun synset at that offset."""
    if not WNID.fullmatch(wnid):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns, then returns None, for a bad offset
        return wordnet.synset_from_pos_and_offset("n", int(wnid[1:]))


def synsets_with_ancestors(
    wordnet: Any, wnids: Iterable[str], known: Container[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """nltk Synsets of `wnids` and of all their ancestors, skipping those in `known`.

    Returns the synsets by wnid and the wnids that are no WordNet noun synset.
    """
    found: dict[str, Any] = {}
    missing: list[str] = []
    todo = list(wnids)
    while todo:
        wnid = todo.pop()
        if wnid in found or wnid in known or wnid in missing:
            continue
        synset = noun_synset(wordnet, wnid)
        if synset is None:
            missing.append(wnid)
        else:
            found[wnid] = synset
            todo.extend(synset_record(synset).parents)
    return found, missing


def _resource_lines(name: str) -> list[str]:
    """The lines of a gzipped package resource."""
    data = resources.files("larvseg").joinpath(name).read_bytes()
    return gzip.decompress(data).decode("utf-8").splitlines()


@cache
def noun_exceptions() -> dict[str, tuple[str, ...]]:
    """WordNet 3.0's irregular noun forms (noun.exc): {"mice": ("mouse",), ...}."""
    lines = _resource_lines(NOUN_EXCEPTIONS_RESOURCE)[1:]  # after the header
    return {form: tuple(bases.split()) for form, bases in (x.split("\t") for x in lines)}


@cache
def other_noun_lemmas() -> frozenset[str]:
    """The lemma keys of `WordNetTable.other_nouns()`, read without building that table:
    a quick test of whether a word or a synset name can be found there at all."""
    lemmas = (line.split("\t", 3)[2] for line in _resource_lines(OTHER_NOUNS_RESOURCE)[1:])
    return frozenset(" ".join(lemmas).lower().split())


@cache
def nltk_wordnet() -> Any | None:
    """nltk's WordNet corpus reader if nltk and WordNet 3.0 are installed, else None."""
    try:
        from nltk.corpus import wordnet
    except ImportError:
        return None
    try:
        version = wordnet.get_version()
    except (LookupError, OSError):
        return None
    return wordnet if version == "3.0" else None


def format_row(category: Category, senses: Sequence[int], list_indices: Sequence[str]) -> str:
    """One table line (without newline); the inverse of the parsing in `WordNetTable.read`."""
    fields = (
        category.wnid,
        category.name,
        " ".join(category.lemmas),
        " ".join(map(str, senses)),
        " ".join(category.parents),
        category.gloss,
        *list_indices,
    )
    if any(("\t" in f or "\n" in f) for f in fields):
        raise ValueError(f"{category.name}: a field contains a tab or newline")
    return "\t".join(fields)


class WordNetTable:
    """Noun synsets indexed by wnid, synset name and lemma, with their ancestor closure."""

    def __init__(
        self,
        records: Sequence[Category],
        senses: Sequence[str],
        lists: dict[str, list[str]] | None = None,
    ) -> None:
        """`senses[r]`: the space-separated sense numbers of row r's lemmas."""
        self.records = list(records)
        self.lists = dict(lists or {})
        self.rows = {c.wnid: r for r, c in enumerate(self.records)}
        self._senses = list(senses)

    @classmethod
    @cache
    def packaged(cls) -> WordNetTable:
        """The table shipped inside the package (read once, then cached)."""
        return cls._read_resource(TABLE_RESOURCE)

    @classmethod
    @cache
    def other_nouns(cls) -> WordNetTable:
        """Every WordNet 3.0 noun synset outside `packaged()` (read once, on first use)."""
        return cls._read_resource(OTHER_NOUNS_RESOURCE)

    @classmethod
    def _read_resource(cls, name: str) -> WordNetTable:
        return cls.read(_resource_lines(name))

    @classmethod
    def read(cls, lines: Sequence[str]) -> WordNetTable:
        """Parse table lines (header first), as written by `format_row`."""
        header = lines[0].split("\t")
        if tuple(header[: len(COLUMNS)]) != COLUMNS:
            raise ValueError(f"not a larvseg WordNet table: header {header[: len(COLUMNS)]}")
        wnids, names, lemmas, senses, parents, glosses, *indices = zip(
            *(line.split("\t") for line in lines[1:]), strict=True
        )
        records = list(
            map(
                Category,
                wnids,
                names,
                [tuple(x.split()) for x in lemmas],
                glosses,
                [tuple(x.split()) for x in parents],
            )
        )
        lists = {
            name: _ordered(wnids, column)
            for name, column in zip(header[len(COLUMNS) :], indices, strict=True)
        }
        return cls(records, senses, lists)

    def __len__(self) -> int:
        return len(self.records)

    def senses(self, row: int) -> tuple[int, ...]:
        """Sense numbers of the row's lemmas, aligned with `records[row].lemmas`."""
        return tuple(map(int, self._senses[row].split()))

    @cached_property
    def _names(self) -> dict[str, int]:
        return {c.name.lower(): r for r, c in enumerate(self.records)}

    @cached_property
    def _lemmas(self) -> dict[str, list[tuple[int, int]]]:
        """Lemma key -> (sense number, row) pairs, first sense first."""
        by_lemma: dict[str, list[tuple[int, int]]] = {}
        for r, (c, senses) in enumerate(zip(self.records, self._senses, strict=True)):
            # lemmas hold no whitespace (they are read split on it): lower() is lemma_key
            for lemma, number in zip(c.lemmas, senses.split(), strict=True):
                pairs = by_lemma.get(lemma.lower())
                if pairs is None:
                    by_lemma[lemma.lower()] = [(int(number), r)]
                else:
                    pairs.append((int(number), r))
        for pairs in by_lemma.values():
            if len(pairs) > 1:
                pairs.sort()
        return by_lemma

    def lemma_keys(self) -> Iterable[str]:
        """Every lemma of the table, as `lemma_key` normalises it."""
        return self._lemmas.keys()

    def rows_of_lemma(self, word: str) -> list[int]:
        """Rows having `word` as a lemma, in WordNet sense order (first sense first)."""
        return [r for _, r in self._lemmas.get(lemma_key(word), [])]

    def numbered_rows_of_lemma(self, word: str) -> list[tuple[int, int]]:
        """(sense number, row) of the rows having `word` as a lemma, first sense first."""
        return list(self._lemmas.get(lemma_key(word), []))

    def row_of_name(self, name: str) -> int | None:
        """Row of a synset name: nltk's own ("dog.n.01") or any lemma's ("hound.n.01")."""
        name = name.lower()
        row = self._names.get(name)
        if row is not None:
            return row
        lemma, _, number = name.rpartition(".n.")
        if not number.isdigit():
            return None
        pairs = self._lemmas.get(lemma_key(lemma), [])
        return next((r for n, r in pairs if n == int(number)), None)

    def extended(self, records: Sequence[Category], senses: Sequence[str]) -> WordNetTable:
        """A new table with more synsets (their parents must be in one of the two)."""
        return WordNetTable([*self.records, *records], [*self._senses, *senses], self.lists)

    @cached_property
    def closure(self) -> Closure:
        """Ancestor closure and depth of every row (computed on first use)."""
        parents = [[self.rows[p] for p in c.parents] for c in self.records]
        ancestors: list[frozenset[int] | None] = [None] * len(parents)
        depth = [0] * len(parents)

        def visit(row: int) -> frozenset[int]:
            known = ancestors[row]
            if known is not None:
                return known
            found = frozenset({row}.union(*(visit(p) for p in parents[row])))
            depth[row] = max((depth[p] + 1 for p in parents[row]), default=0)
            ancestors[row] = found
            return found

        sets = [visit(r) for r in range(len(parents))]
        indptr = np.zeros(len(sets) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in sets], out=indptr[1:])
        indices = np.fromiter(itertools.chain.from_iterable(sets), np.int64, int(indptr[-1]))
        return Closure(indptr, indices, np.asarray(depth, dtype=np.int64))


def _ordered(wnids: Sequence[str], indices: Sequence[str]) -> list[str]:
    """The wnids having a class index, in class-index order."""
    listed = [(int(i), w) for i, w in zip(indices, wnids, strict=True) if i]
    return [w for _, w in sorted(listed)]
