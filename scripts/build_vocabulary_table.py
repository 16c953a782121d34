"""Regenerate larvseg/vocab/data/wordnet_nouns.tsv.gz and wordnet_other_nouns.tsv.gz from
WordNet 3.0 through nltk.

The first table covers every wnid of timm's ImageNet class lists (21K goog, 22K, 12K, 1K)
and all of their WordNet 3.0 ancestors; the second every other WordNet 3.0 noun synset
(same columns, no class lists), so that search and resolution never need nltk at run
time (and WordNet's irregular noun forms, noun.exc: "mice" -> "mouse", as
wordnet_noun_exceptions.tsv.gz). It needs nltk's WordNet 3.0 corpus; without the network,
`scripts/install_wordnet.sh DIR` installs it from Debian packages, then:

    NLTK_DATA=DIR python scripts/build_vocabulary_table.py
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

from nltk.corpus import wordnet as wn
from timm.data import ImageNetInfo

from larvseg.vocab.table import (
    COLUMNS,
    LIST_NAMES,
    NOUN_EXCEPTIONS_RESOURCE,
    OTHER_NOUNS_RESOURCE,
    TABLE_RESOURCE,
    format_row,
    sense_numbers,
    synset_record,
    synset_wnid,
    synsets_with_ancestors,
)

TIMM_SUBSETS = {
    "imagenet21k_goog": "imagenet-21k-goog",
    "imagenet22k": "imagenet-22k",
    "imagenet12k": "imagenet-12k",
    "imagenet1k": "imagenet-1k",
}
DATA = Path(__file__).resolve().parents[1] / "larvseg" / "vocab" / "data"


def class_lists() -> dict[str, list[str]]:
    """timm's class lists (wnids in class-index order), keyed by table column name."""
    return {
        column: list(ImageNetInfo(subset).label_names()) for column, subset in TIMM_SUBSETS.items()
    }


def table_lines(lists: dict[str, list[str]]) -> list[str]:
    """Header and one line per synset."""
    positions = {name: {w: i for i, w in enumerate(lists[name])} for name in LIST_NAMES}
    lines = ["\t".join(COLUMNS + LIST_NAMES)]
    synsets, missing = synsets_with_ancestors(wn, set().union(*lists.values()))
    if missing:
        raise SystemExit(f"not WordNet 3.0 noun synsets: {' '.join(sorted(missing))}")
    for synset in (synsets[w] for w in sorted(synsets)):
        category = synset_record(synset)
        indices = [str(positions[name].get(category.wnid, "")) for name in LIST_NAMES]
        lines.append(format_row(category, sense_numbers(wn, synset), indices))
    return lines


def other_noun_lines(table_wnids: set[str]) -> list[str]:
    """Header and one line per WordNet 3.0 noun synset outside the first table."""
    others = {synset_wnid(s): s for s in wn.all_synsets("n")}
    lines = ["\t".join(COLUMNS)]
    for wnid in sorted(others.keys() - table_wnids):
        synset = others[wnid]
        lines.append(format_row(synset_record(synset), sense_numbers(wn, synset), []))
    return lines


def noun_exception_lines() -> list[str]:
    """WordNet's irregular noun forms (noun.exc): "mice<TAB>mouse", sorted."""
    wn.ensure_loaded()
    exceptions = wn._exception_map["n"]  # nltk's reading of noun.exc; it has no public one
    rows = [f"{form}\t{' '.join(bases)}" for form, bases in sorted(exceptions.items())]
    return ["form\tbases", *rows]


def write_table(path: Path, lines: list[str]) -> None:
    data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=9, mtime=0)
    path.write_bytes(data)
    print(f"{path}: {len(lines) - 1} rows, {len(data) / 1e6:.2f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=DATA)
    args = parser.parse_args(argv)
    if wn.get_version() != "3.0":
        print(f"need WordNet 3.0, nltk has {wn.get_version()}", file=sys.stderr)
        return 1
    lines = table_lines(class_lists())
    write_table(args.output_dir / Path(TABLE_RESOURCE).name, lines)
    table_wnids = {line.partition("\t")[0] for line in lines[1:]}
    write_table(args.output_dir / Path(OTHER_NOUNS_RESOURCE).name, other_noun_lines(table_wnids))
    write_table(args.output_dir / Path(NOUN_EXCEPTIONS_RESOURCE).name, noun_exception_lines())
    return 0


if __name__ == "__main__":
    sys.exit(main())
