"""`larvseg eval`: score a model on ADE-150, ADE-847 or COCO-Stuff-171, no YAML needed."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..config import DATA_ROOT_ENV
from ..errors import InputError
from ..vocab.benchmarks import BENCHMARK_PREFIX, BENCHMARKS, NOVEL_BASE
from .options import add_device_argument, add_model_argument, add_predict_options, predict_options

EPILOG = f"""\
The benchmark's classes are the vocabulary: each covers its synset and the model's
categories under it (closed mode, as `larvseg segment --vocab`). Classes sharing a synset
are one class. Base classes: those in {NOVEL_BASE} (by wnid, larvseg's split),
unless --base-classes names others; --base-classes paper: the paper's own split (by
class name; ADE-150 87 novel, ADE-847 755, see configs/README.md). Data layouts (as downloaded):
  ade-150         ADEChallengeData2016/images/validation/*.jpg, annotations/validation/*.png
  ade-847         ADE20K_2021_17_01/images/ADE/validation/**/*.jpg and *_seg.png
  coco-stuff-171  coco_stuff164k/images/val2017/*.jpg, stuffthingmaps_trainval2017/val2017/*.png

examples:
  larvseg eval --dataset ade-150 --root /data/ADEChallengeData2016 --allow-uncovered
  larvseg eval --dataset ade-847 --root /data --model runs/c171_wa847/model --json a847.json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` command."""
    parser = subparsers.add_parser(
        "eval",
        help="score a model on a segmentation benchmark (mIoU all / base / novel)",
        description="Score a model on a benchmark's data with exactly segment()'s pipeline: "
        "mIoU over all, base and novel classes, pixel accuracy, per-class IoU and accuracy.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", required=True, choices=BENCHMARKS, help="the benchmark")
    parser.add_argument(
        "--root",
        help="the dataset's downloaded folder (e.g. .../ADEChallengeData2016) or its parent "
        f"(default: ${DATA_ROOT_ENV})",
    )
    add_model_argument(parser)
    parser.add_argument("--split", default="val", choices=("val", "train"), help="default: val")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    parser.add_argument(
        "--base-classes",
        metavar="FILE|benchmark:NAME|paper",
        help="the base classes: a file of wnids (one per line), benchmark:NAME, or paper "
        f"(the paper's split of the dataset) (default: the classes also in {NOVEL_BASE})",
    )
    parser.add_argument(
        "--allow-uncovered",
        action="store_true",
        help="score classes that cover no model category (never predicted, IoU 0 where "
        "they occur; listed in the output) instead of stopping with an error",
    )
    add_device_argument(parser)
    add_predict_options(parser)
    parser.add_argument("--limit", type=int, help="evaluate only the first N images")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the table (and write the JSON)."""
    # torch and timm load only when this command runs
    from ..atomic import check_output_file
    from ..distributed import resolve_device
    from ..evaluation.datasets import LAYOUTS, benchmark_dataset
    from ..evaluation.runner import BaseClasses, EvalReport, evaluate
    from ..modeling.model import LarvSegModel
    from ..vocab.benchmarks import novel_classes

    if args.json:  # a bad location fails now, not after the evaluation
        check_output_file(args.json, "--json")
    options = predict_options(args)

    root = args.root or os.environ.get(DATA_ROOT_ENV)
    if not root:
        folder = LAYOUTS[args.dataset].folder
        raise InputError(f"give --root (the {folder} folder) or set ${DATA_ROOT_ENV}")
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, got {args.limit}")
    dataset = benchmark_dataset(args.dataset, Path(root), args.split, args.limit)
    if args.base_classes:
        base = BaseClasses.read(args.base_classes, "--base-classes", args.dataset)
    else:
        novel = {c.wnid for c in novel_classes(args.dataset)}
        base = BaseClasses(
            frozenset(set(dataset.classes) - novel),
            f"base = the {args.dataset} classes that are {NOVEL_BASE} classes (by wnid; "
            f"{BENCHMARK_PREFIX}{NOVEL_BASE}; --base-classes paper: the paper's split)",
        )
    model = LarvSegModel.from_pretrained(args.model)
    result = evaluate(
        model,
        dataset,
        base.wnids,
        options,
        split=base.rule,
        device=resolve_device(args.device),
        allow_uncovered=args.allow_uncovered,
        name=args.dataset,
    )
    report = EvalReport([result])
    report.check_scored()
    print(report)
    if args.json:
        print(f"wrote {report.write_json(args.json)}")
    return 0
