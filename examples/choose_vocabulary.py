"""Explore the 21K vocabulary: search a word, show what a synset covers, build a subset.

python examples/choose_vocabulary.py moth

Works from the WordNet table packaged in `larvseg/vocab/` (no torch, no download);
docs/vocabulary.md explains naming, hyponyms and subsets.
"""

from __future__ import annotations

import sys

from larvseg import Vocabulary


def main(word: str) -> None:
    vocab = Vocabulary.imagenet21k()
    for hit in vocab.search(word, limit=5):
        print(hit)
    animals = vocab.members("animal.n.01")
    print(f"animal.n.01 covers {len(animals)} of {len(vocab)} categories")
    subset = vocab.subset(["dog.n.01", "animal.n.01", "artifact.n.01"])
    for index, item in enumerate(subset.items):
        print(f"{item.name}: {(subset.assignment == index).sum()} categories")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "moth")
