"""`larvseg vocab`: find synsets to segment (`search`) and inspect one (`show`).

The vocabulary (numpy, the packaged table) loads only when a subcommand runs, so
`larvseg --help` stays light.
"""

from __future__ import annotations

import argparse
import logging
import textwrap
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..vocab.vocabulary import Vocabulary

SHOWN_MEMBERS = 10
GLOSS_WIDTH = 70

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `vocab` command with its `search` and `show` subcommands."""
    parser = subparsers.add_parser(
        "vocab",
        help="find WordNet synsets to segment",
        description="Look up the WordNet 3.0 synsets of the default 21K model's vocabulary.",
    )
    commands = parser.add_subparsers(dest="vocab_command", required=True, metavar="SUBCOMMAND")
    search = commands.add_parser(
        "search",
        help="synsets whose lemmas or gloss contain WORD",
        description="List synsets whose lemmas or gloss contain WORD, best first, with how "
        "many model categories each covers; for one covering none, its nearest hypernym "
        "that covers some. Every WordNet 3.0 noun is searched, from tables shipped with "
        "larvseg.",
    )
    search.add_argument("word", nargs="+", metavar="WORD", help="word or phrase, e.g. dog")
    search.add_argument("--limit", type=int, default=20, help="hits shown (default: 20)")
    search.set_defaults(func=run_search)
    show = commands.add_parser(
        "show",
        help="lemmas, gloss, parents and covered categories of a synset",
        description="Show a synset (name like dog.n.01, wnid like n02084071, or a word).",
    )
    show.add_argument("synset", metavar="SYNSET", help="synset name, wnid or word")
    show.set_defaults(func=run_show)


def run_search(args: argparse.Namespace) -> int:
    """Print the hits of `larvseg vocab search`."""
    return _reporting_errors(lambda: _search_lines(" ".join(args.word), args.limit))


def run_show(args: argparse.Namespace) -> int:
    """Print the synset of `larvseg vocab show`."""
    return _reporting_errors(lambda: _show_lines(args.synset))


def _vocabulary() -> Vocabulary:
    from ..vocab.vocabulary import Vocabulary

    return Vocabulary.imagenet21k()


def _search_lines(text: str, limit: int) -> list[str]:
    vocab = _vocabulary()
    hits = vocab.search(text, limit=limit)
    if not hits:
        return [f"no synset matches '{text}'"]
    width = max(len(h.category.name) for h in hits)
    lines = []
    for hit in hits:
        category = hit.category
        lines.append(
            f"{category.name:<{width}}  {category.wnid}  {hit.covered:>6,}  "
            + textwrap.shorten(category.gloss, GLOSS_WIDTH)
        )
        if hit.nearest is not None:
            lines.append(f"{'':<{width}}  nearest covering hypernym: {hit.nearest}")
    return lines


def _show_lines(item: str) -> list[str]:
    from ..errors import VocabularyError

    vocab = _vocabulary()
    category = vocab.resolve(item)
    try:
        members = vocab.members(category)
    except VocabularyError:
        members = []
    lines = [
        str(category),
        f"  lemmas:  {', '.join(category.lemmas)}",
        f"  gloss:   {category.gloss}",
        f"  parents: {', '.join(str(vocab.resolve(p)) for p in category.parents) or '(root)'}",
        f"  covers {len(members):,} of the model's {len(vocab):,} categories",
    ]
    lines += [f"    {vocab.resolve(w)}" for w in members[:SHOWN_MEMBERS]]
    if len(members) > SHOWN_MEMBERS:
        lines.append(f"    ... and {len(members) - SHOWN_MEMBERS:,} more")
    return lines


def _reporting_errors(produce: Callable[[], list[str]]) -> int:
    """Print the lines; how a word was read is a message (errors reach `run_command`)."""
    from ..vocab.vocabulary import SenseWarning

    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", SenseWarning)
        lines = produce()
    for note in notes:
        log.info("%s", note.message)
    print("\n".join(lines))
    return 0
