"""What a denser decision grid costs: `segment(..., stride=S)` on ViT-B/16 over 21,843 classes.

A 480x360 photo at the default model's size 224 (two 224x224 windows), random
weights, strides 16 / 8 / 4: seconds per `segment()` and the peak RSS it adds, with
all 21,843 categories and with a two-item vocabulary (dog, cat: their hyponyms only
are kept). Each cell runs in a fresh process, so its peak RSS is its own.

    python benchmarks/stride_cost.py [--strides 16 8 4] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from inference import build_segmenter, make_image
from timing import median_seconds

VOCABS = {"all 21,843": None, "dog, cat": ["dog.n.01", "cat.n.01"]}


def measure(stride: int, vocab: str, threads: int, repeats: int) -> dict[str, float]:
    """In a fresh process: seconds of one `segment()` and the peak RSS it adds (MiB)."""
    import torch

    torch.set_num_threads(threads)
    segmenter = build_segmenter(None, image_size=224)
    image = make_image(360, 480)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = median_seconds(
        lambda: segmenter.segment(image, vocab=VOCABS[vocab], stride=stride), repeats, True
    )
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "added_mib": (after - before) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strides", type=int, nargs="+", default=[16, 8, 4])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for vocab in VOCABS:
        for stride in args.strides:
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                cell = pool.submit(measure, stride, vocab, args.threads, args.repeats).result()
            rows.append((vocab, stride, cell))
    print(
        f"segment() of a 480x360 photo, ViT-B/16 over 21,843 classes at size 224, "
        f"{args.threads} threads, median of {args.repeats}"
    )
    print(
        "| vocabulary | stride | grid (224x304 input) | s / image | vs stride 16 | peak RSS added |"
    )
    print("|---|---|---|---|---|---|")
    reference = {v: c["seconds"] for v, s, c in rows if s == 16}
    for vocab, stride, cell in rows:
        grid = f"{(224 - 16) // stride + 1}x{(304 - 16) // stride + 1}"
        ratio = f"{cell['seconds'] / reference[vocab]:.1f}x" if vocab in reference else "-"
        print(
            f"| {vocab} | {stride} | {grid} | {cell['seconds']:.2f} | {ratio} | "
            f"{cell['added_mib']:.0f} MiB |"
        )


if __name__ == "__main__":
    main()
