"""Generate the command-line reference of the docs site from the argparse parsers.

Run by mkdocs-gen-files during `mkdocs build`: writes `reference/cli.md` with the
`--help` text of every command and subcommand, so the page cannot drift from the code.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import mkdocs_gen_files

from larvseg.cli.main import build_parser
from larvseg.train.cli import build_parser as build_train_parser
from larvseg.train.toy.cli import build_parser as build_toy_parser

INTRO = """# Command line

Generated from the commands' own argument parsers (`COMMAND --help` prints the same).
Every command prints an error on bad input as one line and exits with code 2.
"""


def help_pages(parser: argparse.ArgumentParser, name: str) -> Iterator[tuple[str, str]]:
    """(command name, help text) of `parser` and, depth first, of its subcommands."""
    yield name, parser.format_help()
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub_parser in action.choices.items():
                yield from help_pages(sub_parser, f"{name} {sub_name}")


def page() -> str:
    sections = [INTRO]
    for parser, name in (
        (build_parser(), "larvseg"),
        (build_train_parser(), "larvseg-train"),
        (build_toy_parser(), "larvseg-toy"),
    ):
        for command, text in help_pages(parser, name):
            sections.append(f"## `{command}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(sections)


with mkdocs_gen_files.open("reference/cli.md", "w") as handle:
    handle.write(page())
