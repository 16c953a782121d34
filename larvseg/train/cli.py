"""`larvseg-train`: train (or resume, or evaluate) LarvSeg from a YAML configuration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import TrainConfig, TrainConfigError, describe_keys

EPILOG = """\
examples:
  larvseg-train --config configs/larvseg_c171_wa150.yaml
  larvseg-train --config run.yaml --set optim.lr=0.01 --set data.sources.0.batch_size=4
  larvseg-train --config run.yaml --resume              # continue OUTPUT_DIR's latest checkpoint
  torchrun --nproc_per_node 8 -m larvseg.train.cli --config run.yaml
  larvseg-train --config run.yaml --eval-only --checkpoint runs/x/model

The configuration schema (every key and its default) is in docs/training.md;
`--set` takes dotted paths (list items by index) and YAML scalar values.
Errors in the configuration or the data stop before training with exit code 2.
"""


def build_parser() -> argparse.ArgumentParser:
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
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="continue from a training checkpoint: a .pt file or a run folder "
        "(no PATH: the output directory's latest checkpoint)",
    )
    parser.add_argument(
        "--eval-only",
        action="store_true",
        help="evaluate instead of training (mIoU all / base / novel on the configured data)",
    )
    parser.add_argument(
        "--checkpoint",
        help="with --eval-only: the model folder or hub id to evaluate (default: OUTPUT_DIR/model)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `larvseg-train`; returns the exit code."""
    args = build_parser().parse_args(argv)
    overrides = [item for group in args.overrides for item in group]
    if args.output_dir:
        overrides.append(f"output_dir={args.output_dir}")
    try:
        config = TrainConfig.load(args.config, overrides)
    except TrainConfigError as err:
        return _fail(f"configuration error: {err}")
    if args.checkpoint and not args.eval_only:
        return _fail("--checkpoint is for --eval-only; use --resume to continue training")
    if args.eval_only:
        return _evaluate(config, args.checkpoint or str(Path(config.output_dir) / "model"))
    return _train(config, args.resume)


def _train(config: TrainConfig, resume: str | None) -> int:
    from ..hub import CheckpointError
    from .checkpoint import ResumeError
    from .data import DataError
    from .distributed import destroy_distributed, init_distributed
    from .engine import Trainer, TrainingError
    from .init import InitError

    if not config.data.sources:
        return _fail("configuration error: data.sources is empty; add at least one source")
    info, device = init_distributed()
    try:
        resume_from = None if resume is None else (resume or config.output_dir)
        Trainer(config, info, device, resume=resume_from).train()
    except (DataError, CheckpointError, ResumeError, InitError, TrainConfigError) as err:
        return _fail(str(err))
    except TrainingError as err:
        return _fail(f"training stopped: {err}", code=1)
    finally:
        destroy_distributed()
    return 0


def _evaluate(config: TrainConfig, checkpoint: str) -> int:
    from ..hub import CheckpointError
    from .data import DataError
    from .evaluate import EvaluationError, run_evaluation

    try:
        print(run_evaluation(config, checkpoint, sources=config.data.eval_sources or None))
    except (DataError, CheckpointError, EvaluationError) as err:
        return _fail(str(err))
    return 0


def _fail(message: str, code: int = 2) -> int:
    print(f"larvseg-train: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
