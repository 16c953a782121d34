"""The `larvseg` command: `larvseg segment`, `vocab`, `eval`, `export`, `demo` and `models`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from .demo import register as register_demo
from .eval import register as register_eval
from .exit import run_command
from .export import register as register_export
from .models import register as register_models
from .segment import register as register_segment
from .vocab import register as register_vocab


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `larvseg` command."""
    parser = argparse.ArgumentParser(
        prog="larvseg",
        description=(
            "Large-vocabulary semantic segmentation over ~21K WordNet categories. "
            "Run `larvseg COMMAND --help` for the options of a command."
        ),
    )
    parser.add_argument("--version", action="version", version=f"larvseg {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_segment(subparsers)
    register_vocab(subparsers)
    register_eval(subparsers)
    register_export(subparsers)
    register_demo(subparsers)
    register_models(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `larvseg` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    return run_command("larvseg", lambda: int(args.func(args)))


if __name__ == "__main__":
    sys.exit(main())
