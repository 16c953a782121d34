"""`larvseg-data`: prepare training data from downloaded datasets.

`larvseg-data imagenet-subset ade-150 --from IN21K/train --to OUT` builds larvseg's
counterpart of the paper's I124 (ADE-847: I585) source: a folder of symbolic links, one
per class of the benchmark that is an ImageNet-21K class, to that class's `<wnid>/`
folder of an ImageNet-21K tree. `--as-paper` builds the paper's own I124 / I585 (the
authors' wnid per class). It needs only the core package (not the training extra).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from ...cli.exit import run_command
from ...errors import DataError
from ...vocab.benchmarks import (
    BENCHMARKS,
    PAPER_SUBSETS,
    BenchmarkClass,
    PaperClass,
    classes,
    imagenet21k_classes,
    paper_subset,
)
from ...vocab.table import WordNetTable
from ...vocab.vocabulary import listing

EPILOG = """\
examples:
  larvseg-data imagenet-subset ade-150 --from /data/imagenet21k/train --to /data/imagenet21k/i124
  larvseg-data imagenet-subset ade-847 --from /data/imagenet21k/train --to /data/imagenet21k/i585
  larvseg-data imagenet-subset ade-150 --as-paper --from /data/in21k/train --to /data/in21k/i124p
"""


@dataclass(frozen=True)
class SubsetClass:
    """One class folder of a subset tree.

    Attributes:
        wnid: the folder's name: the class as larvseg's map identifies it.
        sources: the ImageNet-21K folders whose images it holds (the same wnid for
            larvseg's own subsets; the paper's wnids with `--as-paper`).
        label: how messages name the class.
    """

    wnid: str
    sources: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class SubsetReport:
    """What `link_subset` did.

    Attributes:
        wanted: the class folders of the subset.
        linked: class folders newly linked; kept: those already there.
        missing: `(class, absent source folders)` for classes with a source folder not
            in the source tree (a class with none present is not linked).
    """

    wanted: list[SubsetClass]
    linked: list[str]
    kept: list[str]
    missing: list[tuple[SubsetClass, tuple[str, ...]]]

    def summary(self, title: str, source: Path, target: Path) -> str:
        """Lines for the terminal: counts, then the missing classes by name."""
        found = len(self.linked) + len(self.kept)
        lines = [
            f"{title}: {len(self.wanted)} classes; {found} found in {source}, linked in "
            f"{target} ({len(self.linked)} new, {len(self.kept)} already there); "
            f"{len(self.missing)} missing"
        ]
        lines += [f"  missing: {' '.join(absent)}  {c.label}" for c, absent in self.missing]
        return "\n".join(lines)


def imagenet21k_subset(name: str) -> list[BenchmarkClass]:
    """The classes of benchmark `name` that are ImageNet-21K classes (the packaged copy of
    timm's imagenet-22k list), one per wnid, in label order."""
    first: dict[str, BenchmarkClass] = {}
    for c in imagenet21k_classes(name, WordNetTable.packaged().lists["imagenet22k"]):
        first.setdefault(c.wnid, c)
    return list(first.values())


def subset_plan(name: str, as_paper: bool = False) -> list[SubsetClass]:
    """The class folders of benchmark `name`'s ImageNet-21K subset, in label order.

    larvseg's (default): one folder per ImageNet-21K class among the benchmark's wnids,
    holding that class's images. The paper's (`as_paper`, I124 / I585): one folder per
    class the paper trained with ImageNet-21K images, named by larvseg's wnid of the
    class and holding the images of the wnid(s) the paper used for it
    (`larvseg.vocab.benchmarks.paper_subset`); so the images train the class larvseg
    evaluates, as the paper's trained its class index.
    """
    if not as_paper:
        return [
            SubsetClass(c.wnid, (c.wnid,), f"{c.synset}  ({c.name.strip()})")
            for c in imagenet21k_subset(name)
        ]
    table = classes(name)
    grouped: dict[str, list[PaperClass]] = {}
    for paper in paper_subset(name):
        grouped.setdefault(table[paper.value].wnid, []).append(paper)
    return [
        SubsetClass(
            wnid,
            tuple(p.wnid for p in members),
            "; ".join(f"{p.synset} for {p.name.strip()!r}" for p in members),
        )
        for wnid, members in grouped.items()
    ]


def _link_folder(link: Path, folder: Path) -> bool:
    """`link` -> `folder`; False when that link is already there. DataError for anything
    else at `link`."""
    if link.is_symlink() and Path(link.readlink()) == folder:
        return False
    if link.exists() or link.is_symlink():
        raise DataError(f"{link} exists and is no link to {folder}")
    link.symlink_to(folder, target_is_directory=folder.is_dir())
    return True


def _link_class(target: Path, entry: SubsetClass, folders: list[Path]) -> bool:
    """Make `target/<wnid>`: a link to its one source folder, or a folder of links to
    the images of several; returns whether anything new was linked."""
    if len(folders) == 1:
        return _link_folder(target / entry.wnid, folders[0])
    merged = target / entry.wnid
    if merged.is_symlink() or (merged.exists() and not merged.is_dir()):
        raise DataError(f"{merged} exists and is no folder of links")
    merged.mkdir(exist_ok=True)
    new = [
        _link_folder(merged / image.name, image)
        for folder in folders
        for image in sorted(folder.iterdir())
        if image.is_file()
    ]
    return any(new)


def link_subset(name: str, source: Path, target: Path, as_paper: bool = False) -> SubsetReport:
    """Fill `target` with the class folders of `subset_plan(name, as_paper)`, linking
    into the ImageNet-21K tree `source`.

    Idempotent: links already pointing at the right place are kept. Raises `DataError`
    when `source` has none of the classes, or `target` holds anything else.
    """
    wanted = subset_plan(name, as_paper)
    subset = f"{name} ImageNet-21K" + (" (the paper's)" if as_paper else "")
    if not source.is_dir():
        raise DataError(f"--from {source} is not a folder (the ImageNet-21K <wnid>/ tree)")
    present = {
        c.wnid: [(source / w).absolute() for w in c.sources if (source / w).is_dir()]
        for c in wanted
    }
    present = {wnid: folders for wnid, folders in present.items() if folders}
    if not present:
        raise DataError(
            f"--from {source} has none of the {len(wanted)} {subset} class folders "
            f"(e.g. {wanted[0].sources[0]}/); give the folder that holds the <wnid>/ folders"
        )
    target.mkdir(parents=True, exist_ok=True)
    strangers = sorted(p.name for p in target.iterdir() if p.name not in present)
    if strangers:
        raise DataError(
            f"--to {target} holds {listing(strangers)}, which are no {subset} class "
            "folders; use an empty or new folder (the training source reads every folder in "
            "it as a class)"
        )
    linked: list[str] = []
    kept: list[str] = []
    for c in wanted:
        if c.wnid in present:
            try:
                new = _link_class(target, c, present[c.wnid])
            except DataError as err:
                raise DataError(f"--to {target}: {err}") from err
            (linked if new else kept).append(c.wnid)
    missing = [
        (c, absent)
        for c in wanted
        if (absent := tuple(w for w in c.sources if not (source / w).is_dir()))
    ]
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
    subset.add_argument(
        "--as-paper",
        action="store_true",
        help="the paper's subset instead (ade-150: I124, ade-847: I585): the images of the "
        "wnid the paper used for each class, in a folder named by larvseg's wnid of the class",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `larvseg-data`; returns the exit code."""
    args = build_parser().parse_args(argv)

    def command() -> int:
        if args.as_paper and args.name not in PAPER_SUBSETS:
            raise DataError(f"--as-paper: the paper has no ImageNet subset of {args.name}")
        report = link_subset(args.name, args.source, args.target, args.as_paper)
        title = (
            f"{args.name} {PAPER_SUBSETS[args.name].upper()} (the paper's)"
            if args.as_paper
            else f"{args.name} classes that are ImageNet-21K classes"
        )
        print(report.summary(title, args.source, args.target))
        return 0

    return run_command("larvseg-data", command)


if __name__ == "__main__":
    sys.exit(main())
