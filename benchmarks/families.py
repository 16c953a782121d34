"""What each public classifier of `larvseg.catalog.CHECKPOINTS` costs as a dense segmenter.

Each architecture is built with random weights (no download) and its head's class
count, then `segment()` runs on one 512x512 photo at size 512 with all its categories
(`vocab=None`), on the CPU. Each checkpoint runs in a fresh process, one at a time, so
its peak RSS (the whole process: weights, activations, logits) is its own. Run it
under `nice` on a shared machine.

    nice -n 10 python benchmarks/families.py [--threads 2] [--repeats 2] [--only ID ...]
"""

from __future__ import annotations

import argparse
import resource
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from inference import make_image
from timing import median_seconds


def measure(hub_id: str, threads: int, repeats: int) -> dict[str, float]:
    """In a fresh process: parameters (M), seconds of one `segment()`, peak RSS (MiB)."""
    import torch

    from larvseg import LarvSeg, LarvSegModel, ModelConfig
    from larvseg.catalog import CHECKPOINTS
    from larvseg.modeling.timm_convert import timm_categories

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    checkpoint = next(c for c in CHECKPOINTS if c.hub_id == hub_id)
    config = ModelConfig(
        backbone=checkpoint.architecture,
        classifier="linear",
        categories=timm_categories({"num_classes": checkpoint.classes}),
        image_size=512,
    )
    model = LarvSegModel(config)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    segmenter = LarvSeg(model, device="cpu")
    image = make_image(512, 512)
    seconds = median_seconds(lambda: segmenter.segment(image, vocab=None), repeats, True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"params": params, "seconds": seconds, "peak_mib": peak}


def main() -> None:
    from larvseg.catalog import CHECKPOINTS
    from larvseg.config import DEFAULT_MODEL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", nargs="+", help="hub ids to measure (default: all)")
    args = parser.parse_args()
    ids = args.only or [c.hub_id for c in CHECKPOINTS]
    rows = {}
    for hub_id in ids:
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            rows[hub_id] = pool.submit(measure, hub_id, args.threads, args.repeats).result()
        print(f"measured {hub_id}: {rows[hub_id]}", flush=True)
    print(
        f"segment() of a 512x512 photo at size 512, all categories, random weights, "
        f"{args.threads} threads, median of {args.repeats}"
    )
    print("| hub id | params (M) | s / image | vs default | peak RSS (MiB) |")
    print("|---|---|---|---|---|")
    reference = rows.get(DEFAULT_MODEL, {}).get("seconds")
    for hub_id, cell in rows.items():
        ratio = f"{cell['seconds'] / reference:.2f}x" if reference else "-"
        print(
            f"| {hub_id} | {cell['params']:.1f} | {cell['seconds']:.2f} | {ratio} | "
            f"{cell['peak_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
