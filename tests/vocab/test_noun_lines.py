"""`NounLines` (rows parsed only where a lookup finds them) against `WordNetTable` (every
row parsed) on the same packaged lines; and that search and resolution never build the
other nouns' full table."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap

import pytest

from larvseg.vocab.table import (
    OTHER_NOUNS_RESOURCE,
    TABLE_RESOURCE,
    NounLines,
    WordNetTable,
    _resource_lines,
)


@pytest.mark.parametrize("resource", [TABLE_RESOURCE, OTHER_NOUNS_RESOURCE])
def test_lookups_match_the_parsed_table(resource: str) -> None:
    lines = _resource_lines(resource)
    table, noun_lines = WordNetTable.read(lines), NounLines(lines)
    assert len(noun_lines) == len(table)
    assert noun_lines.lemma_keys() == set(table.lemma_keys())
    rng = random.Random(0)
    for row in rng.sample(range(len(table)), 500):
        category = table.records[row]
        assert noun_lines.record(row) == category
        assert noun_lines.senses(row) == table.senses(row)
        assert noun_lines.row(category.wnid) == row
        assert noun_lines.row_of_name(category.name.upper()) == row
    lemmas = rng.sample(sorted(table.lemma_keys()), 500)
    for lemma in [*lemmas, "Dog", "a", "hot dog", "nothing_of_the_sort", ""]:
        assert noun_lines.numbered_rows_of_lemma(lemma) == table.numbered_rows_of_lemma(lemma)
        assert noun_lines.rows_of_lemma(lemma) == table.rows_of_lemma(lemma)
        for number in (1, 2, 3):
            name = f"{lemma}.n.{number:02d}"
            assert noun_lines.row_of_name(name) == table.row_of_name(name)
    for wnid in ["n00000000", "n99999999", "dog", "", "n0208407"]:
        assert noun_lines.row(wnid) is None and table.rows.get(wnid) is None


def test_search_and_resolution_never_build_the_other_nouns_table() -> None:
    """In a fresh process: words with senses outside the ImageNet classes, a plural, an
    irregular plural, a mistyped synset and a model with a class outside the table are
    all looked up without `WordNetTable.other_nouns()`, parsing a few dozen rows."""
    script = textwrap.dedent(
        """
        import warnings
        from larvseg import Vocabulary
        from larvseg.vocab.table import NounLines, WordNetTable
        warnings.simplefilter("ignore")
        vocab = Vocabulary.imagenet21k()
        for word in ["dog", "bicyclist", "mice", "dogs", "a"]:
            vocab.search(word)
        print(vocab.resolve("bicyclist").name, vocab.resolve("mice").name)
        print(vocab.resolve("cyclist.n.01").wnid, vocab.resolve("n09986189").name)
        try:
            vocab.resolve("dgo.n.01")
        except Exception as error:
            print(type(error).__name__)
        print(Vocabulary(["n09986189", "n02084071"]).members("person.n.01"))
        print(WordNetTable.other_nouns.__func__.cache_info().currsize)
        print(len(NounLines.other_nouns()._parsed) < 200)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.stdout.splitlines() == [
        "cyclist.n.01 mouse.n.01",
        "n09986189 cyclist.n.01",
        "VocabularyError",
        "['n09986189']",
        "0",
        "True",
    ], run.stderr
