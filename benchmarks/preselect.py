"""What image-level preselection saves: `segment(..., preselect=K)` on ViT-B/16 over 21,843
classes (the default model's shape, random weights) at 512x512, `vocab=None`.

K = None (all classes compete) is the reference; with K the network scores only the
image's top-K image-level classes at each location, so the head, the accumulated
logits and the decoding shrink from 21,843 classes to at most K per window. Each
cell runs in a fresh process, so its peak RSS is its own.

    nice -n 10 python benchmarks/preselect.py [--ks 0 1000 100 10] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from inference import build_segmenter, make_image
from timing import median_seconds


def measure(k: int | None, threads: int, repeats: int) -> dict[str, float]:
    """In a fresh process: seconds of one `segment()` and the peak RSS it adds (MiB)."""
    import torch

    torch.set_num_threads(threads)
    segmenter = build_segmenter(None, image_size=512)
    image = make_image(512, 512)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = median_seconds(lambda: segmenter.segment(image, preselect=k), repeats, True)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "added_mib": (after - before) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[0, 1000, 100, 10], help="0: none")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for k in args.ks:
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            cell = pool.submit(measure, k or None, args.threads, args.repeats).result()
        rows.append((k, cell))
    print(
        f"segment() of a 512x512 photo, ViT-B/16 over 21,843 classes at size 512, vocab=None, "
        f"{args.threads} threads, median of {args.repeats}"
    )
    print("| preselect | s / image | vs none | peak RSS added |")
    print("|---|---|---|---|")
    reference = next((c["seconds"] for k, c in rows if not k), None)
    for k, cell in rows:
        ratio = f"{cell['seconds'] / reference:.2f}x" if reference else "-"
        print(f"| {k or 'none'} | {cell['seconds']:.2f} | {ratio} | {cell['added_mib']:.0f} MiB |")


if __name__ == "__main__":
    main()
