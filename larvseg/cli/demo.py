"""`larvseg demo`: the web demo (a Gradio app) on this machine."""

from __future__ import annotations

import argparse
import tempfile

from .options import add_device_argument, add_model_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` command."""
    parser = subparsers.add_parser(
        "demo",
        help="try a model in the browser (web demo)",
        description=(
            "Serve a web page to segment uploaded images by typed synsets, with the overlay, "
            "a legend with areas, the per-pixel confidence and the labels PNG + JSON to "
            "download. Needs the `demo` extra. Nothing is shared beyond HOST:PORT."
        ),
    )
    add_model_argument(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, help="port (default: the first free one from 7860)")
    add_device_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the model, then serve until interrupted."""
    from ..demo.app import launch  # gradio loads only when this command runs
    from ..segmenter import LarvSeg

    segmenter = LarvSeg.from_pretrained(args.model, device=args.device)
    with tempfile.TemporaryDirectory(prefix="larvseg-demo-") as work_dir:
        launch(segmenter, work_dir, args.host, args.port)
    return 0
