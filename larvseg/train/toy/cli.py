"""`larvseg-toy`: write the procedural toy benchmark (`larvseg.train.toy.generate`) to a folder."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from ...cli.exit import run_command
from .generate import ToySpec, ToySpecError, generate

EPILOG = """\
example:
  larvseg-toy data/toy --seed 0
  larvseg-train fit --config toy/larvseg --data-root data/toy
  larvseg-train eval --config toy/larvseg --data-root data/toy

Layout of the folder and what each part is for: docs/toy-benchmark.md.
"""


HELP = {
    "seed": "all randomness derives from it",
    "num_base": "classes with masks (base)",
    "num_novel": "classes with image-level labels only (novel)",
    "image_size": "side of every square image, pixels",
    "base_images": "segmentation scenes of 2-4 base classes",
    "scene_images": "multi-label scenes of 1-2 novel and 1-2 base classes",
    "object_images": "object-centric (single-label) images per novel class",
    "val_images": "validation scenes with full masks",
    "min_region": "smallest share of the image a scene region may have",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="larvseg-toy",
        description="Generate the procedural LarvSeg benchmark: base classes with masks, "
        "novel classes with image-level labels only, validation scenes with full masks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", help="folder to write (created; must be empty or hold this spec)")
    defaults = ToySpec()
    for f in fields(ToySpec):
        default = getattr(defaults, f.name)
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=type(default),
            default=default,
            help=f"{HELP[f.name]} (default {default})",
        )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `larvseg-toy`; returns the exit code."""
    args = build_parser().parse_args(argv)
    return run_command("larvseg-toy", lambda: _generate(args))


def _generate(args: argparse.Namespace) -> int:
    spec = ToySpec(**{f.name: getattr(args, f.name) for f in fields(ToySpec)})
    try:
        root = generate(args.out, spec, progress=not args.quiet)
    except OSError as err:
        raise ToySpecError(f"cannot write {args.out}: {err}") from err
    print(f"wrote the toy benchmark (seed {spec.seed}) to {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
