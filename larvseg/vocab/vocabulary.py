"""Choosing what to segment: WordNet 3.0 synsets over a model's categories.

A requested synset stands for every model category that is the synset or one of its
hyponyms, transitively over every hypernym path, instance hyponyms included. Everything
works from the table shipped with the package; nltk's WordNet 3.0, where installed,
only resolves synsets outside the table.
"""

from __future__ import annotations

import difflib
import re
import textwrap
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import numpy as np

from ..errors import VocabularyError
from .table import (
    WNID,
    Category,
    WordNetTable,
    lemma_key,
    nltk_wordnet,
    noun_synset,
    sense_numbers,
    synset_record,
    synsets_with_ancestors,
)

# sense numbers start at 1 (nltk reads "dog.n.0" as the last sense)
SYNSET_NAME = re.compile(r"(?P<lemma>.+)\.(?P<pos>[nvasr])\.(?P<number>0*[1-9]\d*)", re.IGNORECASE)
POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
# nltk's morphological rules for nouns ("dogs" -> "dog"), applied once, in this order.
NOUN_SUFFIXES = (
    ("s", ""),
    ("ses", "s"),
    ("ves", "f"),
    ("xes", "x"),
    ("zes", "z"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("men", "man"),
    ("ies", "y"),
)
NLTK_HINT = (
    " (larvseg's table holds the ImageNet classes and their ancestors; with WordNet 3.0"
    " installed for nltk, see docs/vocabulary.md, other synsets resolve too)"
)


class SenseWarning(UserWarning):
    """A plain word was read as its first noun sense although it has others."""


@dataclass(frozen=True)
class SearchHit:
    """A synset matching a search, and how many model categories it covers."""

    category: Category
    covered: int

    def __str__(self) -> str:
        return f"{self.category} covers {self.covered:,}"


@dataclass(frozen=True)
class VocabularySubset:
    """Model categories grouped under requested synsets (what `segment(vocab=...)` uses).

    Attributes:
        items: the requested items, resolved, in request order, without duplicates.
        assignment: `(C,)` int64: model class index -> index into `items`, -1 where the
            class is under none of them.
    """

    items: list[Category]
    assignment: np.ndarray


@dataclass(frozen=True)
class _Pairs:
    """Every (model class, ancestor row) pair, grouped by class in class-index order."""

    classes: np.ndarray
    rows: np.ndarray
    starts: np.ndarray


class Vocabulary:
    """A model's categories (WordNet 3.0 noun synsets) and how requested synsets cover them."""

    def __init__(self, wnids: Sequence[str]) -> None:
        """Build from the model's categories (wnids, in class-index order)."""
        wnids = list(wnids)
        if not wnids:
            raise VocabularyError("empty vocabulary: give at least one wnid (e.g. 'n02084071')")
        repeated = sorted(w for w, n in Counter(wnids).items() if n > 1)
        if repeated:
            raise VocabularyError(f"wnids listed more than once: {listing(repeated)}")
        table = WordNetTable.packaged()
        unknown = [w for w in wnids if w not in table.rows]
        self._table = _with_nltk_synsets(table, unknown) if unknown else table
        self._rows = np.array([self._table.rows[w] for w in wnids], dtype=np.int64)
        self.categories: list[Category] = [self._table.records[r] for r in self._rows]
        self._index = {w: i for i, w in enumerate(wnids)}

    @classmethod
    @cache
    def imagenet21k(cls) -> Vocabulary:
        """The 21,843 ImageNet-21K categories in timm's `imagenet-21k-goog` order (cached)."""
        return cls(WordNetTable.packaged().lists["imagenet21k_goog"])

    def __len__(self) -> int:
        return len(self.categories)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self):,} categories)"

    def index(self, wnid: str) -> int:
        """Class index of a model category."""
        try:
            return self._index[wnid]
        except KeyError:
            raise VocabularyError(
                f"{wnid} is not one of this model's {len(self):,} categories"
            ) from None

    def resolve(self, item: Any) -> Category:
        """The synset an item names: a synset name ("dog.n.01"), a wnid ("n02084071"),
        a plain word ("dog": its first noun sense, with a `SenseWarning` where it has
        others), a `Category` or an nltk Synset. Works for non-class synsets too."""
        if isinstance(item, Category):
            return self._record(item.wnid) or item
        if isinstance(item, str):
            return self._resolve_text(item.strip())
        if all(callable(getattr(item, attr, None)) for attr in ("offset", "pos", "name")):
            return self._resolve_synset(item)
        raise VocabularyError(
            f"cannot read {item!r} as a synset: give a synset name ('dog.n.01'), a wnid"
            " ('n02084071'), a word, a Category or an nltk Synset"
        )

    def member_indices(self, item: Any) -> np.ndarray:
        """Class indices (int64, ascending) of the model categories that are `item` or its
        hyponyms; raises `VocabularyError` if there are none."""
        category = self.resolve(item)
        row = self._table.rows.get(category.wnid, -1)
        found = self._pairs.classes[self._pairs.rows == row]
        if found.size == 0:
            raise VocabularyError(self._covers_none([category]))
        return found

    def members(self, item: Any) -> list[str]:
        """wnids of the model categories that are `item` or its hyponyms, in class order."""
        return [self.categories[i].wnid for i in self.member_indices(item)]

    def ancestors(self, item: Any) -> frozenset[str]:
        """wnids of `item` and all its hypernyms, over every path."""
        category = self.resolve(item)
        row = self._table.rows.get(category.wnid)
        if row is None:
            return frozenset({category.wnid}).union(*(self.ancestors(p) for p in category.parents))
        closure = self._table.closure
        rows = closure.indices[closure.indptr[row] : closure.indptr[row + 1]]
        return frozenset(self._table.records[r].wnid for r in rows)

    def subset(self, items: Any) -> VocabularySubset:
        """Assign every model category to the requested item it falls under.

        `items` is a sequence of anything `resolve` takes (or a single one). A category
        under several items goes to the most specific one: the one with the longest
        hypernym path to `entity.n.01` (ties: the earlier requested item).
        """
        resolved = list({c.wnid: c for c in map(self.resolve, _as_list(items))}.values())
        if not resolved:
            raise VocabularyError("empty vocabulary: subset() needs at least one synset")
        count = len(resolved)
        position = np.full(len(self._table) + 1, -1, dtype=np.int64)  # last slot: not in table
        position[[self._table.rows.get(c.wnid, -1) for c in resolved]] = np.arange(count)
        pairs = self._pairs
        chosen = position[pairs.rows]
        covered = np.bincount(chosen[chosen >= 0], minlength=count)
        if not covered.all():
            raise VocabularyError(
                self._covers_none([resolved[k] for k in np.flatnonzero(covered == 0)])
            )
        depth = self._table.closure.depth[pairs.rows]
        score = np.where(chosen >= 0, depth * count + (count - 1 - chosen), -1)
        best = np.maximum.reduceat(score, pairs.starts)
        assignment = np.where(best >= 0, count - 1 - best % count, -1)
        return VocabularySubset(items=resolved, assignment=assignment.astype(np.int64))

    def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Synsets whose lemmas or gloss contain `text`, best first: the word's own senses
        (in WordNet order), then lemmas containing it as a word, as a part, then glosses;
        within each, those covering more model categories first."""
        key = lemma_key(text)
        if not key:
            raise VocabularyError("empty search: give a word, e.g. 'dog'")
        if limit < 1:
            raise VocabularyError(f"search limit must be at least 1, got {limit}")
        senses = {r: n for n, r in enumerate(self._rows_of_word(key))}
        words = key.replace("_", " ")
        phrase = re.compile(rf"\b{re.escape(words)}\b")
        ranked = []
        for row, (lemmas, gloss) in enumerate(self._search_texts):
            tier = _match_tier(row in senses, words, phrase, lemmas, gloss)
            if tier is not None:
                name = self._table.records[row].name
                ranked.append((tier, senses.get(row, 0), -self._covered[row], name, row))
        ranked.sort()
        return [
            SearchHit(self._table.records[row], int(self._covered[row]))
            for *_, row in ranked[:limit]
        ]

    def _record(self, wnid: str) -> Category | None:
        row = self._table.rows.get(wnid)
        return None if row is None else self._table.records[row]

    def _resolve_text(self, text: str) -> Category:
        if WNID.fullmatch(text):
            return self._resolve_wnid(text)
        match = SYNSET_NAME.fullmatch(text)
        if match:
            return self._resolve_name(text, match["lemma"], match["pos"].lower())
        return self._resolve_word(text)

    def _resolve_wnid(self, wnid: str) -> Category:
        found = self._record(wnid)
        if found is not None:
            return found
        wordnet = nltk_wordnet()
        synset = noun_synset(wordnet, wnid) if wordnet else None
        if synset is None:
            raise VocabularyError(f"unknown wnid {wnid}: no WordNet 3.0 noun synset" + _hint())
        return synset_record(synset)

    def _resolve_name(self, name: str, lemma: str, pos: str) -> Category:
        if pos != "n":
            raise VocabularyError(
                f"{name} is a{'n' if pos in 'ar' else ''} {POS_NAMES[pos]} synset;"
                " the model's categories are nouns: use a '.n.' synset"
            )
        row = self._table.row_of_name(name)
        if row is not None:
            return self._table.records[row]
        wordnet = nltk_wordnet()
        if wordnet is not None:
            from nltk.corpus.reader.wordnet import WordNetError

            try:
                return self._resolve_synset(wordnet.synset(name))
            except WordNetError:
                pass
        senses = [self._table.records[r].name for r in self._rows_of_word(lemma)]
        if senses:
            suggestion = f"; '{lemma}' has these senses: {listing(senses)}"
        else:
            suggestion = _did_you_mean(name, (c.name for c in self._table.records))
        raise VocabularyError(f"unknown synset {name}{suggestion}" + _hint())

    def _resolve_word(self, word: str) -> Category:
        rows = self._rows_of_word(word)
        if rows:
            senses = [self._table.records[r] for r in rows]
        else:
            wordnet = nltk_wordnet()
            synsets = wordnet.synsets(lemma_key(word), pos="n") if wordnet else []
            senses = [self._record(s.wnid) or s for s in map(synset_record, synsets)]
        if not senses:
            suggestion = _did_you_mean(lemma_key(word), self._table.lemma_keys())
            raise VocabularyError(f"unknown word '{word}': no WordNet noun{suggestion}" + _hint())
        if len(senses) > 1:
            gloss = textwrap.shorten(senses[0].gloss, 60)
            others = listing([c.name for c in senses[1:]])
            warnings.warn(
                f"'{word}' read as {senses[0].name} ({gloss}); other noun senses: {others}."
                " Give a synset name to choose one.",
                SenseWarning,
                stacklevel=4,
            )
        return senses[0]

    def _resolve_synset(self, synset: Any) -> Category:
        if synset.pos() != "n":
            raise VocabularyError(
                f"{synset.name()} is not a noun synset; the model's categories are nouns"
            )
        return self._record(f"n{synset.offset():08d}") or synset_record(synset)

    def _rows_of_word(self, word: str) -> list[int]:
        """Table rows having the word (else its singular) as a lemma, in sense order."""
        key = lemma_key(word)
        forms = [key] + [key[: -len(old)] + new for old, new in NOUN_SUFFIXES if key.endswith(old)]
        return next((rows for rows in map(self._table.rows_of_lemma, forms) if rows), [])

    def _covers_none(self, categories: Iterable[Category]) -> str:
        names = listing([str(c) for c in categories])
        return (
            f"{names} covers none of this model's {len(self):,} categories;"
            " `larvseg vocab search WORD` lists synsets that do"
        )

    @cached_property
    def _pairs(self) -> _Pairs:
        closure = self._table.closure
        starts = closure.indptr[self._rows]
        lengths = closure.indptr[self._rows + 1] - starts
        new_starts = np.cumsum(lengths) - lengths
        rows = closure.indices[np.arange(lengths.sum()) + np.repeat(starts - new_starts, lengths)]
        classes = np.repeat(np.arange(len(self._rows), dtype=np.int64), lengths)
        return _Pairs(classes=classes, rows=rows, starts=new_starts)

    @cached_property
    def _covered(self) -> np.ndarray:
        """For every table row, how many model categories it covers."""
        return np.bincount(self._pairs.rows, minlength=len(self._table))

    @cached_property
    def _search_texts(self) -> list[tuple[str, str]]:
        """Per table row: its lemmas ("hunting dog | hound") and gloss, lowercase."""
        return [
            (" | ".join(lemma.replace("_", " ") for lemma in c.lemmas).lower(), c.gloss.lower())
            for c in self._table.records
        ]


def _match_tier(
    is_sense: bool, words: str, phrase: re.Pattern[str], lemmas: str, gloss: str
) -> int | None:
    """Search rank of a row: 0 a sense of the word, 1 a lemma containing it as a word,
    2 a lemma containing it, 3 a gloss containing it as a word, None no match."""
    if is_sense:
        return 0
    if phrase.search(lemmas):
        return 1
    if words in lemmas:
        return 2
    if phrase.search(gloss):
        return 3
    return None


def _with_nltk_synsets(table: WordNetTable, wnids: list[str]) -> WordNetTable:
    """The table plus the synsets of `wnids` and their ancestors, from nltk's WordNet."""
    wordnet = nltk_wordnet()
    if wordnet is None:
        raise VocabularyError(f"unknown wnids: {listing(wnids)}" + _hint())
    synsets, missing = synsets_with_ancestors(wordnet, wnids, table.rows)
    if missing:
        raise VocabularyError(f"not WordNet 3.0 noun synsets: {listing(sorted(missing))}")
    senses = [" ".join(map(str, sense_numbers(wordnet, s))) for s in synsets.values()]
    return table.extended([synset_record(s) for s in synsets.values()], senses)


def _as_list(items: Any) -> list[Any]:
    """A single item (str, Category, Synset) as a one-item list; a sequence as a list."""
    if isinstance(items, (str, Category)) or callable(getattr(items, "offset", None)):
        return [items]
    return list(items)


def _hint() -> str:
    return "" if nltk_wordnet() else NLTK_HINT


def _did_you_mean(text: str, candidates: Iterable[str]) -> str:
    matches = difflib.get_close_matches(text, list(candidates), n=5, cutoff=0.75)
    return f"; did you mean {', '.join(matches)}?" if matches else ""


def listing(names: Sequence[str], shown: int = 5) -> str:
    """'a, b, c' or 'a, b, c, d, e and 12 more'."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
