"""Choosing what to segment: WordNet 3.0 synsets over a model's categories.

A requested synset stands for every model category that is the synset or one of its
hyponyms, transitively over every hypernym path, instance hyponyms included. Everything
works from the tables shipped with the package: the ImageNet classes with their
ancestors, and every other WordNet 3.0 noun (read on first use); nltk is not needed.
"""

from __future__ import annotations

import difflib
import re
import textwrap
import warnings
from collections import Counter
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import numpy as np

from ..errors import VocabularyError
from .table import WNID, Category, WordNetTable, lemma_key, noun_exceptions, other_noun_lemmas

# sense numbers start at 1 (nltk reads "dog.n.0" as the last sense)
SYNSET_NAME = re.compile(r"(?P<lemma>.+)\.(?P<pos>[nvasr])\.(?P<number>0*[1-9]\d*)", re.IGNORECASE)
POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
# nltk's morphological rules for nouns ("dogs" -> "dog"), applied once, in this order,
# after WordNet's irregular forms (noun.exc)
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


class SenseWarning(UserWarning):
    """A plain word was read as its first noun sense although it has others."""


@dataclass(frozen=True)
class SearchHit:
    """A synset matching a search, and how many model categories it covers.

    `nearest`: for a synset covering none, its closest hypernym that covers some (as a
    hit of its own); None otherwise.
    """

    category: Category
    covered: int
    nearest: SearchHit | None = None

    def __str__(self) -> str:
        text = f"{self.category} covers {self.covered:,}"
        return text if self.nearest is None else f"{text}; nearest covering: {self.nearest}"


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
        self._table = _with_other_nouns(table, unknown) if unknown else table
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

    def search(self, text: str, limit: int = 20, *, wordnet: bool = True) -> list[SearchHit]:
        """Synsets whose lemmas or gloss contain `text`, best first: the word's own senses
        (in WordNet order), then lemmas containing it as a word, as a part, then glosses;
        within each, those covering more model categories first.

        The packaged table is searched in full. With `wordnet`, the word's senses and
        the synsets with a lemma containing it are also looked up among the other
        WordNet nouns (glosses: the table's only); synsets outside the table cover no
        model category. Hits covering none carry their `nearest` covering hypernym.
        """
        key = lemma_key(text)
        if not key:
            raise VocabularyError("empty search: give a word, e.g. 'dog'")
        if limit < 1:
            raise VocabularyError(f"search limit must be at least 1, got {limit}")
        words = key.replace("_", " ")
        phrase = re.compile(rf"\b{re.escape(words)}\b")
        senses = self._senses_of(key, wordnet)
        rows = self._table.rows
        sense_of_row = {rows[w]: n for w, n in senses.items() if w in rows}
        ranked: list[tuple[int, int, int, str, Category]] = []
        for row, (lemmas, gloss) in enumerate(self._search_texts):
            tier = _match_tier(row in sense_of_row, words, phrase, lemmas, gloss)
            if tier is not None:
                record = self._table.records[row]
                covered = -int(self._covered[row])
                ranked.append((tier, sense_of_row.get(row, 0), covered, record.name, record))
        if wordnet:
            ranked += _other_matches(rows, words, phrase, senses, ranked, limit)
        ranked.sort()
        return [self._hit(category) for *_, category in ranked[:limit]]

    def nearest_covering(self, item: Any) -> SearchHit:
        """The closest synset at or above `item` that covers at least one model category:
        fewest hypernym steps over every path (instance hypernyms included); ties go to
        the one covering fewer categories, then by name."""
        category = self.resolve(item)
        level, seen = [category], {category.wnid}
        while level:
            covering = [(self._coverage(c), c.name, c) for c in level if self._coverage(c)]
            if covering:
                covered, _, found = min(covering)
                return SearchHit(found, covered)
            parents = sorted({p for c in level for p in c.parents} - seen)
            seen.update(parents)
            level = [self._resolve_wnid(p) for p in parents]
        raise VocabularyError(f"{category} has no hypernym covering a category of this model")

    def _hit(self, category: Category) -> SearchHit:
        covered = self._coverage(category)
        return SearchHit(category, covered, None if covered else self.nearest_covering(category))

    def _coverage(self, category: Category) -> int:
        """How many model categories `category` covers (0 outside the table)."""
        row = self._table.rows.get(category.wnid)
        return 0 if row is None else int(self._covered[row])

    def _senses_of(self, key: str, wordnet: bool) -> dict[str, int]:
        """wnid -> rank of the word's noun senses: all of WordNet's (`wordnet`), else the
        table's."""
        for form in _noun_forms(key):
            tables = [self._table]
            if wordnet and form in other_noun_lemmas():
                tables.append(WordNetTable.other_nouns())
            numbered = sorted(
                (number, table.records[r].wnid)
                for table in tables
                for number, r in table.numbered_rows_of_lemma(form)
            )
            if numbered:
                return {wnid: n for n, (_, wnid) in enumerate(numbered)}
        return {}

    def _record(self, wnid: str) -> Category | None:
        row = self._table.rows.get(wnid)
        return None if row is None else self._table.records[row]

    def _other(self, row: int | None) -> Category | None:
        """The record of a row of the other nouns' table, or None."""
        return None if row is None else WordNetTable.other_nouns().records[row]

    def _resolve_text(self, text: str) -> Category:
        if WNID.fullmatch(text):
            return self._resolve_wnid(text)
        match = SYNSET_NAME.fullmatch(text)
        if match:
            return self._resolve_name(text, match["lemma"], match["pos"].lower())
        return self._resolve_word(text)

    def _resolve_wnid(self, wnid: str) -> Category:
        found = self._record(wnid) or self._other(WordNetTable.other_nouns().rows.get(wnid))
        if found is None:
            raise VocabularyError(f"unknown wnid {wnid}: no WordNet 3.0 noun synset")
        return found

    def _resolve_name(self, name: str, lemma: str, pos: str) -> Category:
        if pos != "n":
            raise VocabularyError(
                f"{name} is a{'n' if pos in 'ar' else ''} {POS_NAMES[pos]} synset;"
                " the model's categories are nouns: use a '.n.' synset"
            )
        row = self._table.row_of_name(name)
        if row is not None:
            return self._table.records[row]
        if lemma_key(lemma) in other_noun_lemmas():
            found = self._other(WordNetTable.other_nouns().row_of_name(name))
            if found is not None:
                return found
        senses = [self._table.records[r].name for r in self._rows_of_word(lemma)]
        if senses:
            suggestion = f"; '{lemma}' has these senses: {listing(senses)}"
        else:
            suggestion = _did_you_mean(name, (c.name for c in self._table.records))
        raise VocabularyError(f"unknown synset {name}{suggestion}")

    def _resolve_word(self, word: str) -> Category:
        rows = self._rows_of_word(word)
        if rows:
            senses = [self._table.records[r] for r in rows]
        elif set(_noun_forms(lemma_key(word))) & other_noun_lemmas():
            wordnet = WordNetTable.other_nouns()
            senses = [wordnet.records[r] for r in _rows_of_word(wordnet, word)]
        else:
            senses = []
        if not senses:
            suggestion = _did_you_mean(lemma_key(word), self._table.lemma_keys())
            raise VocabularyError(f"unknown word '{word}': no WordNet noun{suggestion}")
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
        return self._resolve_wnid(f"n{synset.offset():08d}")

    def _rows_of_word(self, word: str) -> list[int]:
        """Table rows having the word (else its singular) as a lemma, in sense order."""
        return _rows_of_word(self._table, word)

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
        return [_search_text(c) for c in self._table.records]


def _search_text(category: Category) -> tuple[str, str]:
    """What search matches: lemmas ("hunting dog | hound") and gloss, lowercase."""
    lemmas = " | ".join(lemma.replace("_", " ") for lemma in category.lemmas)
    return lemmas.lower(), category.gloss.lower()


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


def _noun_forms(key: str) -> list[str]:
    """A lemma key, its irregular singulars (WordNet's noun.exc: "mice" -> "mouse") and
    its singulars by nltk's noun rules ("dogs" -> "dog"), in that order."""
    rules = [key[: -len(old)] + new for old, new in NOUN_SUFFIXES if key.endswith(old)]
    return [key, *noun_exceptions().get(key, ()), *rules]


def _rows_of_word(table: WordNetTable, word: str) -> list[int]:
    """Rows of `table` having the word (else its singular) as a lemma, in sense order."""
    forms = _noun_forms(lemma_key(word))
    return next((rows for rows in map(table.rows_of_lemma, forms) if rows), [])


def _other_matches(
    table_rows: Container[str],
    words: str,
    phrase: re.Pattern[str],
    senses: dict[str, int],
    table_ranked: list[tuple[int, int, int, str, Category]],
    limit: int,
) -> list[tuple[int, int, int, str, Category]]:
    """Ranked search entries of WordNet nouns outside the table (they cover nothing).

    Tier 0: the word's senses; tiers 1 and 2: synsets having a lemma that contains the
    words (as a word / as a part). A tier is looked up only while fewer than `limit`
    hits rank before its first synset outside the table (all hits of better tiers and
    the table's hits of that tier covering something), which keeps broad searches
    ("a") from ranking thousands of synsets.
    """
    found: dict[str, Category] = {}

    def entries() -> list[tuple[int, int, int, str, Category]]:
        ranked = []
        for wnid, record in found.items():
            lemmas, gloss = _search_text(record)
            tier = _match_tier(wnid in senses, words, phrase, lemmas, gloss)
            if tier is not None:
                ranked.append((tier, senses.get(wnid, 0), 0, record.name, record))
        return ranked

    def add(wnids: Iterable[str] = (), keys: Iterable[str] = ()) -> None:
        """Add the synsets `wnids` and those having a lemma of `keys` (the other nouns'
        table is read only here, for the first synset there is to add)."""
        others = WordNetTable.other_nouns()
        rows = [others.rows[w] for w in wnids if w in others.rows]
        for row in rows + [r for key in keys for r in others.rows_of_lemma(key)]:
            found.setdefault(others.records[row].wnid, others.records[row])

    if any(w not in table_rows for w in senses):
        add(wnids=senses)
    spelled = ((key, key.replace("_", " ")) for key in other_noun_lemmas())
    containing = [(key, text) for key, text in spelled if words in text]
    for tier in (1, 2):
        ahead = sum(t < tier or (t == tier and c < 0) for t, _, c, *_ in table_ranked)
        if ahead + sum(t < tier for t, *_ in entries()) >= limit:
            break
        keys = [k for k, text in containing if (phrase.search(text) is None) == (tier == 2)]
        if keys:
            add(keys=keys)
    return entries()


def _with_other_nouns(table: WordNetTable, wnids: list[str]) -> WordNetTable:
    """The table plus the synsets of `wnids` and their ancestors, from the other nouns."""
    others = WordNetTable.other_nouns()
    missing = sorted(w for w in wnids if w not in others.rows)
    if missing:
        raise VocabularyError(f"not WordNet 3.0 noun synsets: {listing(missing)}")
    rows: dict[str, int] = {}
    todo = list(wnids)
    while todo:
        wnid = todo.pop()
        if wnid in rows or wnid in table.rows:
            continue
        rows[wnid] = others.rows[wnid]
        todo.extend(others.records[rows[wnid]].parents)
    ordered = sorted(rows.values())
    senses = [" ".join(map(str, others.senses(r))) for r in ordered]
    return table.extended([others.records[r] for r in ordered], senses)


def _as_list(items: Any) -> list[Any]:
    """A single item (str, Category, Synset) as a one-item list; a sequence as a list."""
    if isinstance(items, (str, Category)) or callable(getattr(items, "offset", None)):
        return [items]
    return list(items)


def _did_you_mean(text: str, candidates: Iterable[str]) -> str:
    matches = difflib.get_close_matches(text, list(candidates), n=5, cutoff=0.75)
    return f"; did you mean {', '.join(matches)}?" if matches else ""


def listing(names: Sequence[str], shown: int = 5) -> str:
    """'a, b, c' or 'a, b, c, d, e and 12 more'."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
