"""`larvseg segment`: segment image files and write labels, overlay and category list."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from ..config import DEFAULT_MODEL
from ..errors import ImageError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `segment` command."""
    parser = subparsers.add_parser(
        "segment",
        help="segment images into WordNet categories",
        description=(
            "Segment each IMAGE and write OUT_DIR/<name>_labels.png (16-bit: 0 = unlabeled, "
            "i = category i of the JSON), OUT_DIR/<name>_overlay.png and OUT_DIR/<name>.json "
            "(categories with pixel counts)."
        ),
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"checkpoint folder or Hugging Face hub id (default: {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--vocab",
        nargs="+",
        metavar="SYNSET",
        help="what to segment: synset names (dog.n.01), wnids (n02084071) or words; each "
        "covers its hyponyms. Default: all of the model's categories",
    )
    parser.add_argument(
        "--mode",
        choices=("closed", "open"),
        default="closed",
        help="closed: every pixel gets a --vocab item; open: decide over all categories, "
        "pixels won by a category outside --vocab are unlabeled (default: closed)",
    )
    parser.add_argument("-o", "--output-dir", default=".", help="output folder (default: .)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: auto)")
    parser.add_argument("--bf16", action="store_true", help="run under bfloat16 autocast")
    parser.add_argument(
        "--size", type=int, help="short side the image is resized to (default: the model's)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Segment every image; a failing image is reported and the others still run."""
    from ..segmenter import LarvSeg  # torch and timm load only when this command runs

    model = LarvSeg.from_pretrained(
        args.model, device=args.device, dtype="bf16" if args.bf16 else None
    )
    model.resolve_vocab(args.vocab, args.mode)  # a bad vocabulary fails before any image
    out_dir = Path(args.output_dir)
    failed = 0
    for path in tqdm(args.images, desc="segment", unit="image", disable=len(args.images) < 2):
        try:
            result = model.segment(path, vocab=args.vocab, mode=args.mode, size=args.size)
        except ImageError as err:
            tqdm.write(f"larvseg segment: skipped: {err}", file=sys.stderr)
            failed += 1
            continue
        written = result.save(out_dir / Path(path).stem)
        tqdm.write(" ".join(str(p) for p in written.values()))
    return 1 if failed else 0
