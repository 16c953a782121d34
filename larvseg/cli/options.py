"""The command-line options several commands share, declared once.

`larvseg segment`, `eval`, `export`, `demo` and `larvseg-train eval` take the same
`--model`, `--device` and prediction options (`--size`, `--window`, `--window-step`,
`--stride`, `--batch-size`, `-k`, `--bf16`), with the same meaning, defaults and help.
Declaring them imports nothing heavy: `predict_options` loads torch only when a command
runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..config import DEFAULT_MODEL

if TYPE_CHECKING:
    from ..pipeline.predict import PredictOptions

MODEL_HELP = f"checkpoint folder or Hugging Face hub id (default: {DEFAULT_MODEL})"
ONNX_MODEL_HELP = (
    "checkpoint folder, Hugging Face hub id, or an .onnx file written by `larvseg export` "
    f"(the onnx extra; runs on the CPU) (default: {DEFAULT_MODEL})"
)


def add_model_argument(
    parser: argparse.ArgumentParser,
    *,
    positional: bool = False,
    flag: str = "--model",
    onnx: bool = False,
) -> None:
    """`--model` (or a positional `MODEL`): the checkpoint to load, `args.model`; with
    `onnx`, the help says an exported `.onnx` file is taken too."""
    help_text = ONNX_MODEL_HELP if onnx else MODEL_HELP
    if positional:
        parser.add_argument(
            "model", metavar="MODEL", nargs="?", default=DEFAULT_MODEL, help=help_text
        )
    else:
        parser.add_argument(flag, dest="model", default=DEFAULT_MODEL, help=help_text)


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """`--device`: where the model runs, `args.device`."""
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (a GPU when there is one, else the CPU), cpu, cuda, cuda:N (default: auto)",
    )


def add_predict_options(
    parser: argparse.ArgumentParser,
    *,
    batch_size: int = 4,
    batch_help: str = "windows per forward pass",
) -> None:
    """The prediction options, read back by `predict_options(args)`: sizes, sliding
    windows, stride, windows per forward pass (`--batch-size`, default `batch_size`,
    described by `batch_help`), decoding candidates and bfloat16 autocast."""
    group = parser.add_argument_group("prediction")
    group.add_argument(
        "--size", type=int, help="short side images are resized to (default: the model's)"
    )
    group.add_argument(
        "--window",
        type=int,
        help="sliding-window side, a multiple of the patch size (default: --size)",
    )
    group.add_argument(
        "--window-step",
        type=int,
        help="sliding-window step, a multiple of the patch size (default: 2/3 of the window)",
    )
    group.add_argument(
        "--stride",
        type=int,
        help="patch-embedding stride, a divisor of the patch size: half the patch decides "
        "on a 4x denser grid for about 4-16x the compute (default: the patch size)",
    )
    group.add_argument(
        "--batch-size",
        type=int,
        default=batch_size,
        help=f"{batch_help} (default: {batch_size})",
    )
    group.add_argument(
        "-k",
        type=int,
        default=8,
        help="decoding candidates per patch; 0 decides by the exact argmax of the "
        "upsampled logits (default: 8)",
    )
    group.add_argument(
        "--preselect",
        type=int,
        metavar="K",
        help="only the image's top K categories by the network's image-level logits compete "
        "at each pixel (open mode: pixels won by another are unlabeled; default: all compete)",
    )
    group.add_argument("--bf16", action="store_true", help="run under bfloat16 autocast")


def predict_options(args: argparse.Namespace) -> PredictOptions:
    """The `PredictOptions` of `add_predict_options`' flags, checked (`InputError` naming
    the option)."""
    from ..pipeline.predict import PredictOptions  # torch loads only when a command runs
    from ..segmenter import resolve_dtype

    return PredictOptions(
        size=args.size,
        window=args.window,
        window_step=args.window_step,
        stride=args.stride,
        batch_size=args.batch_size,
        k=args.k or None,
        autocast_dtype=resolve_dtype("bf16" if args.bf16 else None),
        preselect=args.preselect,
    )
