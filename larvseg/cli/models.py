"""`larvseg models`: the public classifiers larvseg runs out of the box, and their cost."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `models` command."""
    parser = subparsers.add_parser(
        "models",
        help="list the public checkpoints to pass as --model",
        description=(
            "List the public timm ImageNet classifiers larvseg runs as dense segmenters "
            "(hub id, classes, what the head pools, parameters, CPU seconds and peak memory "
            "per 512x512 image), as a Markdown table; docs/weights.md explains the columns."
        ),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the table."""
    from ..catalog import checkpoint_table

    print(checkpoint_table())
    return 0
