"""`larvseg-train fit | eval | diagnose`: train (or resume), evaluate or diagnose LarvSeg
from a YAML configuration.

The old flag forms (`larvseg-train --config X`, `--eval-only`, `--diagnose-attention
SOURCE`) still work for this release, with a FutureWarning naming the new form.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ..cli.exit import USAGE_ERROR, run_command
from ..cli.options import add_device_argument, add_predict_options, predict_options
from ..config import DATA_ROOT_ENV
from .packaged import ListConfigs

if TYPE_CHECKING:
    from .config import TrainConfig

TRAINING_PACKAGES = {"yaml": "PyYAML"}
"""Modules of the `training` extra that every run needs (import name -> package)."""

COMMANDS = ("fit", "eval", "diagnose")

EPILOG = """\
examples:
  larvseg-train --list-configs                     # the packaged configurations
  larvseg-train fit --config larvseg_c171_wa150 --data-root /datasets
  LARVSEG_DATA=/datasets larvseg-train fit --config larvseg_c171_wa150
  larvseg-train fit --config run.yaml --set optim.lr=0.01 --set data.sources.0.batch_size=4
  larvseg-train fit --config run.yaml --resume      # continue OUTPUT_DIR's latest checkpoint
  torchrun --nproc_per_node 8 -m larvseg.train.cli fit --config run.yaml
  larvseg-train eval --config run.yaml --checkpoint runs/x/model --json eval.json
  larvseg-train diagnose val --config run.yaml --checkpoint runs/x

The configuration schema (every key and its default) is in docs/training.md;
`--set` takes dotted paths (list items by index) and YAML scalar values.
Errors in the configuration or the data stop before training with exit code 2.
"""


def _config_options() -> argparse.ArgumentParser:
    """The options every subcommand reads its configuration with."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("configuration")
    group.add_argument(
        "--config",
        help="YAML configuration file, or a packaged configuration's name (--list-configs; "
        "see docs/training.md)",
    )
    group.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. optim.lr=0.01 (repeatable; several per flag ok)",
        nargs="+",
    )
    group.add_argument("--output-dir", help="where checkpoints and logs go (config output_dir)")
    group.add_argument(
        "--data-root",
        help="folder that relative data paths of every source are read from (config "
        f"data.root; default ${DATA_ROOT_ENV} where set, else the current directory)",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `larvseg-train` (its epilog lists every config key)."""
    from .schema import describe_keys  # needs PyYAML: imported once main() checked it

    keys = "\nconfiguration keys (defaults):\n  " + "\n  ".join(describe_keys())
    parser = argparse.ArgumentParser(
        prog="larvseg-train",
        description="Train, evaluate or diagnose a LarvSeg model.\n"
        "Run `larvseg-train COMMAND --help` for the options of a command.",
        epilog=EPILOG + keys,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--list-configs", action=ListConfigs, help="print the packaged configurations and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config = [_config_options()]
    fit = commands.add_parser(
        "fit",
        parents=config,
        help="train (or resume) a model",
        description="Train a model from the configuration (or resume a run).",
        epilog=keys,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fit.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="continue from a training checkpoint: a .pt file or a run folder "
        "(no PATH: the output directory's latest checkpoint)",
    )
    fit.set_defaults(func=_fit)
    evaluate = commands.add_parser(
        "eval",
        parents=config,
        help="evaluate a model on the configured data (mIoU all / base / novel)",
        description="Evaluate a model on the configuration's evaluation sources (default: "
        "its segmentation sources) with exactly segment()'s pipeline; the prediction "
        "options are `larvseg eval`'s.",
    )
    evaluate.add_argument(
        "--checkpoint",
        help="the model folder or hub id to evaluate (default: OUTPUT_DIR/model)",
    )
    evaluate.add_argument(
        "--base-classes",
        metavar="FILE|benchmark:NAME|paper",
        help="the base classes (a file of wnids, one per line, benchmark:NAME for a "
        "benchmark's classes, or paper / paper:NAME for the paper's split); default: config "
        "data.base_classes, else inferred from the training segmentation sources' class lists",
    )
    evaluate.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    evaluate.add_argument(
        "--allow-uncovered",
        action="store_true",
        help="score classes that cover no model category (never predicted) instead of "
        "stopping with an error",
    )
    add_device_argument(evaluate)
    add_predict_options(evaluate)
    evaluate.set_defaults(func=_evaluate)
    diagnose = commands.add_parser(
        "diagnose",
        parents=config,
        help="measure the CA-Classifier's attention inside each label's true region",
        description="Measure the share of the CA-Classifier's attention inside each "
        "label's true region on SOURCE (a configured source with label maps).",
    )
    diagnose.add_argument("source", metavar="SOURCE", help="a configured source with label maps")
    diagnose.add_argument(
        "--checkpoint",
        help="a training checkpoint, .pt file or run folder (default: OUTPUT_DIR's latest)",
    )
    diagnose.add_argument(
        "--max-images",
        type=int,
        metavar="N",
        help="measure the first N images of SOURCE (default: all)",
    )
    add_device_argument(diagnose)
    diagnose.set_defaults(func=_diagnose)
    return parser


def old_form(argv: list[str]) -> tuple[list[str], str | None]:
    """`argv` in the subcommand form, and a deprecation note when it used the old flags
    (`--config X` alone: fit; `--eval-only`: eval; `--diagnose-attention SOURCE`: diagnose)."""
    if not argv or argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--list-configs"):
        return argv, None
    rest = [a for a in argv if a != "--eval-only"]
    if len(rest) < len(argv):
        return ["eval", *rest], "larvseg-train --eval-only is now `larvseg-train eval`"
    for i, arg in enumerate(argv):
        if arg == "--diagnose-attention" and i + 1 < len(argv):
            source, rest = argv[i + 1], argv[:i] + argv[i + 2 :]
        elif arg.startswith("--diagnose-attention="):
            source, rest = arg.partition("=")[2], argv[:i] + argv[i + 1 :]
        else:
            continue
        note = "larvseg-train --diagnose-attention SOURCE is now `larvseg-train diagnose SOURCE`"
        return ["diagnose", source, *rest], note
    return ["fit", *argv], "larvseg-train without a command is now `larvseg-train fit`"


def missing_training_packages() -> list[str]:
    """The packages of the `training` extra that are not installed."""
    return [
        name for module, name in TRAINING_PACKAGES.items() if not importlib.util.find_spec(module)
    ]


def main(argv: list[str] | None = None) -> int:
    """Entry point of `larvseg-train`; returns the exit code."""
    missing = missing_training_packages()
    if missing:
        print(
            f"larvseg-train: training needs the `training` extra ({', '.join(missing)} missing); "
            'install it with: pip install "larvseg[training]"',
            file=sys.stderr,
        )
        return USAGE_ERROR
    argv, note = old_form(sys.argv[1:] if argv is None else list(argv))

    def command() -> int:
        args = build_parser().parse_args(argv)  # --list-configs prints here: a closed pipe too
        if note is not None:
            warnings.warn(f"{note}; the old form goes in the next release", FutureWarning, 2)
        return int(args.func(args))

    return run_command("larvseg-train", command)


def _config(args: argparse.Namespace) -> TrainConfig:
    from .errors import TrainConfigError
    from .schema import load_config

    overrides = [item for group in args.overrides for item in group]
    if args.output_dir:
        overrides.append(f"output_dir={args.output_dir}")
    try:
        return load_config(args.config, overrides, args.data_root)
    except TrainConfigError as err:
        raise TrainConfigError(f"configuration error: {err}") from err


def _evaluate(args: argparse.Namespace) -> int:
    from ..atomic import check_output_file
    from .evaluation.runner import base_classes, run_evaluation

    if args.json:  # a bad location fails now, not after the evaluation
        check_output_file(args.json, "--json")
    options = predict_options(args)
    config = _config(args)
    report = run_evaluation(
        config,
        args.checkpoint or str(Path(config.output_dir) / "model"),
        sources=config.data.eval_sources or None,
        base=base_classes(config, args.base_classes),
        options=options,
        device=args.device,
        allow_uncovered=args.allow_uncovered,
    )
    report.check_scored()
    print(report)
    if args.json:
        print(f"wrote {report.write_json(args.json)}")
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    from .engine.diagnose import diagnose_attention
    from .errors import TrainConfigError

    if args.max_images is not None and args.max_images < 1:
        raise TrainConfigError(f"--max-images takes a positive count, got {args.max_images}")
    config = _config(args)
    report = diagnose_attention(
        config, args.source, args.checkpoint, max_images=args.max_images, device=args.device
    )
    print(report)
    return 0


def _fit(args: argparse.Namespace) -> int:
    """Train (or resume); a run stopped by `TrainingError` exits with 1."""
    from ..distributed import destroy_distributed, init_distributed
    from .engine.trainer import Trainer
    from .errors import TrainConfigError, TrainingError

    config = _config(args)
    if not config.data.sources:
        raise TrainConfigError(
            "configuration error: data.sources is empty; add at least one source"
        )
    info, device = init_distributed()
    try:
        resume = None if args.resume is None else (args.resume or config.output_dir)
        Trainer(config, info, device, resume=resume).train()
    except TrainingError as err:
        logging.getLogger(__name__).error("training stopped: %s", err)
        return 1
    finally:
        destroy_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
