"""`larvseg-data`: prepare training data from downloaded datasets.

`larvseg-data imagenet-subset ade-150 --from IN21K/train --to OUT` builds the paper's
I124 (ADE-847: I585) source: a folder of symbolic links, one per class of the benchmark
that is an ImageNet-21K class, to that class's `<wnid>/` folder of an ImageNet-21K tree.
It needs only the core package (not the training extra).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from ...cli.exit import run_command
from ...errors import DataError
from ...vocab.benchmarks import BENCHMARKS, BenchmarkClass, imagenet21k_classes
from ...vocab.table import WordNetTable
from ...vocab.vocabulary import listing

EPILOG = """\
examples:
  larvseg-data imagenet-subset ade-150 --from /data/imagenet21k/train --to /data/imagenet21k/i124
  larvseg-data imagenet-subset ade-847 --from /data/imagenet21k/train --to /data/imagenet21k/i585
"""


@dataclass(frozen=True)
class SubsetReport:
    """What `link_subset` did.

    Attributes:
        wanted: the benchmark's classes that are ImageNet-21K classes (one per wnid).
        linked: wnids newly linked; kept: wnids whose link was already there.
        missing: wanted classes without a folder in the source tree.
    """

    wanted: list[BenchmarkClass]
    linked: list[str]
    kept: list[str]
    missing: list[BenchmarkClass]

    def summary(self, name: str, source: Path, target: Path) -> str:
        """Lines for the terminal: counts, then the missing classes by name."""
        found = len(self.linked) + len(self.kept)
        lines = [
            f"{name}: {len(self.wanted)} classes are ImageNet-21K classes; {found} found in "
            f"{source}, linked in {target} ({len(self.linked)} new, {len(self.kept)} already "
            f"there); {len(self.missing)} missing"
        ]
        lines += [f"  missing: {c.wnid}  {c.synset}  ({c.name.strip()})" for c in self.missing]
        return "\n".join(lines)


def imagenet21k_subset(name: str) -> list[BenchmarkClass]:
    """The classes of benchmark `name` that are ImageNet-21K classes (the packaged copy of
    timm's imagenet-22k list), one per wnid, in label order."""
    first: dict[str, BenchmarkClass] = {}
    for c in imagenet21k_classes(name, WordNetTable.packaged().lists["imagenet22k"]):
        first.setdefault(c.wnid, c)
    return list(first.values())


def link_subset(name: str, source: Path, target: Path) -> SubsetReport:
    """Link `target/<wnid>` -> `source/<wnid>` for each ImageNet-21K class of benchmark `name`.

    Idempotent: links already pointing at the right folder are kept. Raises `DataError`
    when `source` has none of the classes, or `target` holds anything else.
    """
    wanted = imagenet21k_subset(name)
    if not source.is_dir():
        raise DataError(f"--from {source} is not a folder (the ImageNet-21K <wnid>/ tree)")
    present = [c for c in wanted if (source / c.wnid).is_dir()]
    if not present:
        raise DataError(
            f"--from {source} has none of the {len(wanted)} {name} ImageNet-21K class folders "
            f"(e.g. {wanted[0].wnid}/); give the folder that holds the <wnid>/ folders"
        )
    target.mkdir(parents=True, exist_ok=True)
    names = {c.wnid for c in present}
    strangers = sorted(p.name for p in target.iterdir() if p.name not in names)
    if strangers:
        raise DataError(
            f"--to {target} holds {listing(strangers)}, which are no {name} ImageNet-21K "
            "class folders; use an empty or new folder (the training source reads every "
            "folder in it as a class)"
        )
    linked, kept = [], []
    for c in present:
        link, folder = target / c.wnid, (source / c.wnid).absolute()
        if link.is_symlink() and Path(link.readlink()) == folder:
            kept.append(c.wnid)
            continue
        if link.exists() or link.is_symlink():
            raise DataError(f"--to {target}: {link} exists and is no link to {folder}")
        link.symlink_to(folder, target_is_directory=True)
        linked.append(c.wnid)
    missing = [c for c in wanted if c.wnid not in names]
    return SubsetReport(wanted, linked, kept, missing)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `larvseg-data`."""
    parser = argparse.ArgumentParser(
        prog="larvseg-data",
        description="Prepare training data from downloaded datasets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subset = commands.add_parser(
        "imagenet-subset",
        help="link the ImageNet-21K folders of a benchmark's classes (I124, I585)",
        description="Build a folder of symbolic links to the ImageNet-21K class folders of "
        "the benchmark's classes that are ImageNet-21K classes (exact wnid match): the "
        "paper's I124 (ade-150) and I585 (ade-847) sources. Reports the classes found and "
        "missing.",
    )
    subset.add_argument("name", choices=BENCHMARKS, metavar="NAME", help=", ".join(BENCHMARKS))
    subset.add_argument(
        "--from", dest="source", required=True, type=Path, help="ImageNet-21K <wnid>/ tree"
    )
    subset.add_argument("--to", dest="target", required=True, type=Path, help="output folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `larvseg-data`; returns the exit code."""
    args = build_parser().parse_args(argv)

    def command() -> int:
        report = link_subset(args.name, args.source, args.target)
        print(report.summary(args.name, args.source, args.target))
        return 0

    return run_command("larvseg-data", command)


if __name__ == "__main__":
    sys.exit(main())
