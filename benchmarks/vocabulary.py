"""Speed of the WordNet vocabulary: cold import + build, members, subset, search.

    python benchmarks/vocabulary.py [--repeats N]

Cold figures run in fresh interpreters (timed inside them, so interpreter start-up is
excluded); warm figures are medians over repeats in this process.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys

from timing import median_seconds

from larvseg.errors import VocabularyError
from larvseg.vocab.table import WordNetTable
from larvseg.vocab.vocabulary import Vocabulary

COLD = """
import json, time
t0 = time.perf_counter()
from larvseg.vocab.vocabulary import Vocabulary
vocab = Vocabulary.imagenet21k()
t1 = time.perf_counter()
vocab.members("entity.n.01")
t2 = time.perf_counter()
print(json.dumps({"build": t1 - t0, "first_members": t2 - t1}))
"""


def cold_runs(repeats: int) -> dict[str, float]:
    """Median seconds of import + build, and of the first members() call, in fresh processes."""
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", COLD], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeats)
    ]
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def covering_synsets(vocab: Vocabulary, count: int, seed: int = 0) -> list[str]:
    """`count` seeded-random table synsets (names) that cover at least one model category."""
    names = [c.name for c in WordNetTable.packaged().records]
    chosen: list[str] = []
    for name in random.Random(seed).sample(names, len(names)):
        try:
            vocab.member_indices(name)
        except VocabularyError:
            continue
        chosen.append(name)
        if len(chosen) == count:
            return chosen
    raise RuntimeError(f"fewer than {count} synsets cover a category")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cold = cold_runs(args.repeats)
    vocab = Vocabulary.imagenet21k()
    names = covering_synsets(vocab, 1000)
    wnids = [vocab.resolve(n).wnid for n in names]
    warm_calls = [
        ('members("entity.n.01") (warm)', lambda: vocab.members("entity.n.01")),
        ("subset(1,000 synset names) (warm)", lambda: vocab.subset(names)),
        ("subset(1,000 wnids) (warm)", lambda: vocab.subset(wnids)),
        (
            'search("dog", wordnet=False) (warm, table only)',
            lambda: vocab.search("dog", wordnet=False),
        ),
    ]
    vocab.search("dog")  # read the other nouns' table once, outside the timing
    warm_calls += [
        ('search("dog") (warm, table + other WordNet nouns)', lambda: vocab.search("dog")),
        ('search("bicyclist") (warm, outside the table)', lambda: vocab.search("bicyclist")),
    ]
    rows = [
        ("import + build Vocabulary.imagenet21k() (cold)", cold["build"]),
        ('first members("entity.n.01") (cold: ancestor closure)', cold["first_members"]),
        *[(label, median_seconds(call, args.repeats)) for label, call in warm_calls],
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'what':<{width}}  {'ms':>8}")
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds * 1e3:8.1f}")


if __name__ == "__main__":
    main()
