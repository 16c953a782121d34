"""`larvseg-train`: train (or resume, evaluate, diagnose) LarvSeg from a YAML configuration."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..cli.exit import USAGE_ERROR, run_command
from ..config import DATA_ROOT_ENV

if TYPE_CHECKING:
    from .config import TrainConfig

TRAINING_PACKAGES = {"yaml": "PyYAML"}
"""Modules of the `training` extra that every run needs (import name -> package)."""

EPILOG = """\
examples:
  larvseg-train --config configs/larvseg_c171_wa150.yaml --data-root /datasets
  LARVSEG_DATA=/datasets larvseg-train --config configs/larvseg_c171_wa150.yaml
  larvseg-train --config run.yaml --set optim.lr=0.01 --set data.sources.0.batch_size=4
  larvseg-train --config run.yaml --resume              # continue OUTPUT_DIR's latest checkpoint
  torchrun --nproc_per_node 8 -m larvseg.train.cli --config run.yaml
  larvseg-train --config run.yaml --eval-only --checkpoint runs/x/model --json eval.json
  larvseg-train --config run.yaml --diagnose-attention val --checkpoint runs/x

The configuration schema (every key and its default) is in docs/training.md;
`--set` takes dotted paths (list items by index) and YAML scalar values.
Errors in the configuration or the data stop before training with exit code 2.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `larvseg-train` (its epilog lists every config key)."""
    from .schema import describe_keys  # needs PyYAML: imported once main() checked it

    parser = argparse.ArgumentParser(
        prog="larvseg-train",
        description="Train a LarvSeg model on mask data plus image-level labels.",
        epilog=EPILOG + "\nconfiguration keys (defaults):\n  " + "\n  ".join(describe_keys()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, help="YAML configuration file (see docs/training.md)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. optim.lr=0.01 (repeatable; several per flag ok)",
        nargs="+",
    )
    parser.add_argument("--output-dir", help="where checkpoints and logs go (config output_dir)")
    parser.add_argument(
        "--data-root",
        help="folder that relative data paths of every source are read from (config "
        f"data.root; default ${DATA_ROOT_ENV} where set, else the current directory)",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="continue from a training checkpoint: a .pt file or a run folder "
        "(no PATH: the output directory's latest checkpoint)",
    )
    instead = parser.add_mutually_exclusive_group()
    instead.add_argument(
        "--eval-only",
        action="store_true",
        help="evaluate instead of training (mIoU all / base / novel on the configured data)",
    )
    instead.add_argument(
        "--diagnose-attention",
        metavar="SOURCE",
        help="instead of training, measure the share of the CA-Classifier's attention inside "
        "each label's true region on SOURCE (a configured source with label maps)",
    )
    parser.add_argument(
        "--checkpoint",
        help="with --eval-only: the model folder or hub id to evaluate (default: "
        "OUTPUT_DIR/model); with --diagnose-attention: a training checkpoint, .pt file or "
        "run folder (default: OUTPUT_DIR's latest)",
    )
    parser.add_argument(
        "--max-images",
        type=int,
        metavar="N",
        help="with --diagnose-attention: measure the first N images of SOURCE (default: all)",
    )
    parser.add_argument(
        "--base-classes",
        metavar="FILE|benchmark:NAME",
        help="with --eval-only: the base classes (a file of wnids, one per line, or "
        "benchmark:NAME for a benchmark's classes); default: config data.base_classes, "
        "else inferred from the training segmentation sources' class lists",
    )
    parser.add_argument(
        "--json", metavar="OUT", help="with --eval-only: also write the results as JSON to OUT"
    )
    parser.add_argument(
        "--allow-uncovered",
        action="store_true",
        help="with --eval-only: score classes that cover no model category (never "
        "predicted) instead of stopping with an error",
    )
    return parser


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
    args = build_parser().parse_args(argv)
    return run_command("larvseg-train", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from .errors import TrainConfigError
    from .schema import load_config

    overrides = [item for group in args.overrides for item in group]
    if args.output_dir:
        overrides.append(f"output_dir={args.output_dir}")
    training = not (args.eval_only or args.diagnose_attention)
    if args.checkpoint and training:
        raise TrainConfigError(
            "--checkpoint is for --eval-only and --diagnose-attention; use --resume to "
            "continue training"
        )
    for flag in ("base_classes", "json", "allow_uncovered"):
        if getattr(args, flag) and not args.eval_only:
            raise TrainConfigError(f"--{flag.replace('_', '-')} is for --eval-only")
    if args.max_images is not None and (not args.diagnose_attention or args.max_images < 1):
        raise TrainConfigError("--max-images takes a positive count, with --diagnose-attention")
    try:
        config = load_config(args.config, overrides, args.data_root)
    except TrainConfigError as err:
        raise TrainConfigError(f"configuration error: {err}") from err
    if args.eval_only:
        from .evaluation.runner import base_classes, run_evaluation

        report = run_evaluation(
            config,
            args.checkpoint or str(Path(config.output_dir) / "model"),
            sources=config.data.eval_sources or None,
            base=base_classes(config, args.base_classes),
            allow_uncovered=args.allow_uncovered,
        )
        print(report)
        if args.json:
            print(f"wrote {report.write_json(args.json)}")
        return 0
    if args.diagnose_attention:
        from .engine.diagnose import diagnose_attention

        print(
            diagnose_attention(
                config, args.diagnose_attention, args.checkpoint, max_images=args.max_images
            )
        )
        return 0
    return _train(config, args.resume)


def _train(config: TrainConfig, resume: str | None) -> int:
    """Train (or resume); a run stopped by `TrainingError` exits with 1."""
    from ..distributed import destroy_distributed, init_distributed
    from .engine.trainer import Trainer
    from .errors import TrainConfigError, TrainingError

    if not config.data.sources:
        raise TrainConfigError(
            "configuration error: data.sources is empty; add at least one source"
        )
    info, device = init_distributed()
    try:
        resume_from = None if resume is None else (resume or config.output_dir)
        Trainer(config, info, device, resume=resume_from).train()
    except TrainingError as err:
        logging.getLogger(__name__).error("training stopped: %s", err)
        return 1
    finally:
        destroy_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
