"""`larvseg segment`: segment image files, folders and patterns; write labels, overlay,
category list per image and a summary of the run.

Under `torchrun --nproc-per-node N -m larvseg segment ...` each of the N processes
(one per GPU) segments its own share of the files.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, LarvSegError
from .options import add_device_argument, add_model_argument, add_predict_options, predict_options

if TYPE_CHECKING:
    from tqdm import tqdm

    from ..distributed import DistInfo
    from ..pipeline.image import ImageFile
    from ..segmenter import FileResult

SUMMARY_NAME = "larvseg-summary.json"

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `segment` command."""
    parser = subparsers.add_parser(
        "segment",
        help="segment images into WordNet categories",
        description=(
            "Segment each image (files, folders, glob patterns) and write "
            "OUT_DIR/<name>_labels.png (0 = unlabeled, i = category i of the JSON; a palette "
            "PNG in the overlay's colours, 16-bit past 255 categories), "
            "OUT_DIR/<name>_overlay.png and OUT_DIR/<name>.json (categories with pixel counts); "
            "<name> is the file's path under a named folder, or its stem. Files are decoded "
            "in worker processes while the model runs. A file that cannot be read is listed "
            f"with the reason in OUT_DIR/{SUMMARY_NAME} and the command exits with 1 at the "
            "end; every other entry of a folder left out (not an image, a subfolder without "
            "-r, a broken link) is listed there too. OUT_DIR is never read as input. Every "
            "file is written under a temporary name and renamed when complete, so an "
            "interrupted run leaves no half-written file; running the same command again "
            "rewrites every output and finishes the run. Under torchrun every process takes "
            "its own share of the files: "
            "`torchrun --nproc-per-node N -m larvseg segment ...` for N GPUs."
        ),
    )
    parser.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="image files, folders (their images) or glob patterns such as 'photos/*.jpg'",
    )
    parser.add_argument(
        "-r", "--recursive", action="store_true", help="also take images in subfolders"
    )
    add_model_argument(parser, onnx=True)
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
    add_device_argument(parser)
    add_predict_options(
        parser, batch_size=8, batch_help="images decoded together and windows per forward pass"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="image decoding processes (default: 2 when the model runs on a GPU, 0 on a CPU, "
        "where they would take cores from the model)",
    )
    parser.add_argument(
        "--fail-fast", action="store_true", help="stop at the first file that cannot be read"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Segment every file of this process's share; 1 if any file failed on any process."""
    _check_vocab(args.vocab)
    # torch and timm load only when this command runs
    from ..distributed import destroy_distributed, init_distributed

    info, device = init_distributed()
    try:
        return _segment(args, info, device if args.device == "auto" else args.device)
    finally:
        destroy_distributed()


def _check_vocab(items: list[str] | None) -> None:
    """Resolve each `--vocab` item in the packaged WordNet tables, so that a mistyped
    synset is reported at once, before torch and the model load (`VocabularyError`);
    whether the model covers it is checked once the model is loaded."""
    from ..vocab.vocabulary import SenseWarning, Vocabulary

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SenseWarning)  # said once, by resolve_vocab
        for item in items or []:
            Vocabulary.imagenet21k().resolve(item)


def _segment(args: argparse.Namespace, info: DistInfo, device: Any) -> int:
    from tqdm import tqdm

    from ..atomic import check_output_folder
    from ..distributed import gather_objects
    from ..segmenter import LarvSeg
    from .files import find_images, shard

    options = predict_options(args)  # bad options fail before the model loads
    out_dir = check_output_folder(args.output_dir, "output folder (-o)")
    found = find_images(args.images, args.recursive, output_dir=out_dir)
    _check_summary_name(found.files)
    mine = shard(found.files, info.rank, info.world_size)
    model = LarvSeg.from_pretrained(args.model, device=device, dtype=options.autocast_dtype)
    model.resolve_vocab(args.vocab, args.mode)  # a bad vocabulary fails before any image
    failed = [{"path": p, "reason": r} for p, r in found.missing] if info.is_main else []
    for entry in failed:
        log.error("failed %s: %s", entry["path"], entry["reason"])
    start = time.perf_counter()
    segmented = 0
    if not (failed and args.fail_fast):
        results = model.segment_files(
            mine,
            args.vocab,
            args.mode,
            size=options.size,
            window=options.window,
            window_step=options.window_step,
            stride=options.stride,
            k=options.k,
            images_per_batch=args.batch_size,
            windows_per_pass=args.batch_size,
            num_workers=args.workers,
            preselect=options.preselect,
        )
        with tqdm(total=len(mine), desc="segment", unit="image", disable=not info.is_main) as bar:
            segmented = _write_all(results, out_dir, failed, args.fail_fast, bar)
    seconds = time.perf_counter() - start
    ranks = gather_objects({"segmented": segmented, "failed": failed, "seconds": seconds}, info)
    if info.is_main:
        _write_summary(out_dir / SUMMARY_NAME, ranks, len(found.files), found.skipped)
    return 1 if any(rank["failed"] for rank in ranks) else 0


def _write_all(
    results: Iterable[FileResult],
    out_dir: Path,
    failed: list[dict[str, str]],
    fail_fast: bool,
    bar: tqdm,
) -> int:
    """Write each result's files as it comes; failures go to `failed` (with `fail_fast`,
    the first one ends the loop). Returns the number of images written."""
    written = 0
    for result in results:
        bar.update()
        error = result.error
        if result.segmentation is not None:
            try:
                result.segmentation.save(out_dir / result.file.name)
            except (OSError, LarvSegError) as err:
                error = f"cannot write its outputs: {err}"
        if error is None:
            written += 1
            continue
        failed.append({"path": str(result.file.path), "reason": error})
        log.error("failed %s: %s", result.file.path, error)
        if fail_fast:
            break
    return written


def _check_summary_name(files: list[ImageFile]) -> None:
    """`InputError` when an image's outputs would take the summary's name."""
    for file in files:
        if f"{file.name}.json" == SUMMARY_NAME:
            raise InputError(
                f"{file.path}: its outputs would be named {file.name!r}, like the run's summary "
                f"{SUMMARY_NAME}; rename the file"
            )


def _write_summary(
    path: Path, ranks: list[dict[str, Any]], files: int, skipped: list[tuple[str, str]]
) -> None:
    """The run's summary JSON (written atomically), and one line about it on stdout."""
    from ..atomic import write_text

    segmented = sum(rank["segmented"] for rank in ranks)
    failed = [entry for rank in ranks for entry in rank["failed"]]
    seconds = max(rank["seconds"] for rank in ranks)
    summary = {
        "files": files,
        "segmented": segmented,
        "failed": failed,
        "skipped": [{"path": p, "reason": r} for p, r in skipped],
        "seconds": round(seconds, 3),
        "images_per_second": round(segmented / seconds, 3) if seconds > 0 else None,
        "segmented_per_process": [rank["segmented"] for rank in ranks],
    }
    write_text(path, json.dumps(summary, indent=2) + "\n")
    print(
        f"segmented {segmented} images in {seconds:.1f} s ({segmented / max(seconds, 1e-9):.2f} "
        f"images/s), {len(failed)} failed, {len(skipped)} other entries skipped; summary: {path}"
    )
