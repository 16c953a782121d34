"""CPU benchmark: compact memory bank vs the naive bank (docs/method.md).

The naive bank keeps the `K` unit features of each of the last `M` updates,
`(C, M, K, d)`, and scores a pixel by averaging its cosine over all `M x K` of
them (every cosine is computed, as the authors' code does). The compact bank
keeps one mean per update, `(C, M, d)`, and scores by a dot product with the
mean of the means. Both give the same scores (tests/test_memory_bank.py).

Usage: python benchmarks/memory_bank.py [--classes 64] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from larvseg.train.ca.memory_bank import MemoryBank

FULL_CLASSES = 21_843
DIM = 768
SIZE = 20
TOPK = 40
FP32 = 4


class DenseNaiveBank:
    """The naive bank, preallocated: `(C, M, K, d)` features and a ring position per class."""

    def __init__(self, num_classes: int) -> None:
        self.features = torch.zeros(num_classes, SIZE, TOPK, DIM)
        self.count = torch.zeros(num_classes, dtype=torch.long)

    def update(self, class_ids: torch.Tensor, features: torch.Tensor) -> None:
        """class_ids `(P,)` distinct, features `(P, K, d)`."""
        self.features[class_ids, self.count[class_ids] % SIZE] = features
        self.count[class_ids] += 1

    def scores(self, pixels: torch.Tensor, class_ids: torch.Tensor) -> torch.Tensor:
        """Average cosine of pixels `(B, d, hw)` to every stored feature: `(B, P, hw)`."""
        stored = self.features[class_ids].flatten(1, 2)
        return torch.matmul(stored[None], pixels[:, None]).mean(dim=2)  # cosines, then mean


def compact_scores(bank: MemoryBank, pixels: torch.Tensor, class_ids: torch.Tensor) -> torch.Tensor:
    """Same scores from the compact bank: `(B, P, hw)`."""
    return torch.einsum("pd,bdx->bpx", bank.mean(class_ids), pixels)


def seconds(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of `repeats` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=64)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    num_classes, pairs = args.classes, args.pairs
    pixels = F.normalize(torch.randn(2, DIM, 32 * 32), dim=1)
    features = F.normalize(torch.randn(pairs, TOPK, DIM), dim=-1)
    naive = DenseNaiveBank(num_classes)
    compact = MemoryBank(num_classes, DIM, SIZE, TOPK)
    for _ in range(SIZE):  # fill every class
        for start in range(0, num_classes, pairs):
            ids = torch.arange(start, min(start + pairs, num_classes))
            naive.update(ids, features[: ids.numel()])
            compact.update(ids, features[: ids.numel()].mean(dim=1))
    ids = torch.randperm(num_classes)[:pairs]
    same = torch.allclose(
        naive.scores(pixels, ids), compact_scores(compact, pixels, ids), atol=1e-5
    )
    assert same, "compact and naive banks disagree"

    def naive_step() -> None:
        naive.update(ids, features)
        naive.scores(pixels, ids)

    def compact_step() -> None:
        compact.update(ids, features.mean(dim=1))
        compact_scores(compact, pixels, ids)

    naive_bytes = naive.features.untyped_storage().nbytes() + naive.count.untyped_storage().nbytes()
    rows = [
        (
            "naive",
            num_classes * SIZE * TOPK * DIM * FP32,
            naive_bytes,
            seconds(naive_step, args.repeats),
        ),
        (
            "compact",
            num_classes * SIZE * DIM * FP32,
            compact.nbytes,
            seconds(compact_step, args.repeats),
        ),
    ]
    print(f"C={num_classes}, d={DIM}, M={SIZE}, K={TOPK}, fp32, {pairs} pairs, 2 images of 32x32")
    print(f"{'bank':<8} {'computed bytes':>15} {'measured bytes':>15} {'update+score ms':>16}")
    for name, computed, measured, secs in rows:
        print(f"{name:<8} {computed:>15,} {measured:>15,} {secs * 1e3:>16.2f}")
    (_, _, naive_mem, naive_s), (_, _, compact_mem, compact_s) = rows
    print(
        f"ratio naive/compact: memory {naive_mem / compact_mem:.1f}x, "
        f"time {naive_s / compact_s:.1f}x"
    )
    full_naive = FULL_CLASSES * SIZE * TOPK * DIM * FP32
    full_compact = FULL_CLASSES * SIZE * DIM * FP32
    print(
        f"projected C={FULL_CLASSES:,}: naive {full_naive / 1e9:.1f} GB, "
        f"compact {full_compact / 1e9:.2f} GB fp32 ({full_compact / 2e9:.2f} GB fp16/bf16), "
        "all categories allocated"
    )


if __name__ == "__main__":
    main()
