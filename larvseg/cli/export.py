"""`larvseg export`: write a model's network as an ONNX file, checked with onnxruntime."""

from __future__ import annotations

import argparse
from pathlib import Path

from .options import add_model_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` command."""
    parser = subparsers.add_parser(
        "export",
        help="export a model's network to ONNX",
        description=(
            "Export MODEL's network (normalised batch -> logits at feature resolution, dynamic "
            "batch, height and width) to an ONNX file that carries the model's config, then run "
            "it once with onnxruntime against PyTorch. Needs the `onnx` extra. Preprocessing and "
            "decoding stay in larvseg: see larvseg.export.onnx.OnnxNetwork."
        ),
    )
    add_model_argument(parser, positional=True)
    parser.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (default: 18)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export, then report the file and the onnxruntime-vs-PyTorch difference."""
    from ..atomic import check_output_file
    from ..export.onnx import OnnxNetwork, export_onnx, max_abs_difference
    from ..modeling.model import LarvSegModel  # torch and timm load only when this runs

    check_output_file(args.output, "-o")  # a bad location fails now, not after the export
    model = LarvSegModel.from_pretrained(args.model)
    path = export_onnx(model, Path(args.output), opset=args.opset)
    network = OnnxNetwork(path)
    size = model.config.image_size // model.patch_size * model.patch_size
    shape = (1, 3, size, size)
    difference = max_abs_difference(model, network, shape)
    files = [path, path.with_name(f"{path.name}.data")]  # the weights, if over 2 GB
    megabytes = sum(f.stat().st_size for f in files if f.is_file()) / 1e6
    p = model.patch_size
    print(
        f"wrote {path} ({megabytes:.1f} MB): pixel_values (batch, 3, {p}*rows, {p}*cols) -> "
        f"logits (batch, {model.config.num_classes}, rows, cols)"
    )
    print(
        f"onnxruntime vs PyTorch on a {'x'.join(map(str, shape))} input: "
        f"max abs difference {difference:.2e}"
    )
    return 0
