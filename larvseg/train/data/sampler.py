"""Reproducible, sharded, infinite sampling and mixed batches over all data sources.

The global sample stream of a source is the concatenation of epoch permutations
(epoch `e` = a permutation of the samples drawn from `(seed, e)`); it is cut into
steps of `batch_size * world_size` keys and rank `r` takes the r-th `batch_size`
slice of each step. A key is `(sample index, draw)` where draw = the position in the
global stream, so the augmentation of every sample is fixed by (seed, source, index,
draw) alone: independent of DataLoader workers, prefetching and of stopping and
resuming (`start_step`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader

from ...errors import DataError
from ..seeding import derive_seed, seed_sequence
from .dataset import SourceDataset, collate

MAX_EMPTY_BATCHES = 50
log = logging.getLogger(__name__)


class ShardedInfiniteSampler(torch.utils.data.Sampler):
    """Yields this rank's `(index, draw)` keys forever, `batch_size` per step.

    Args:
        size: number of samples of the source.
        batch_size: samples per step and rank.
        seed: seeds the epoch permutations.
        rank, world_size: this process's shard.
        start_step: the first step to yield (resume), computed directly, nothing replayed.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
    ) -> None:
        if size < 1 or batch_size < 1 or not 0 <= rank < world_size or start_step < 0:
            raise ValueError(
                f"invalid sampler: size={size} batch_size={batch_size} rank={rank} "
                f"world_size={world_size} start_step={start_step}"
            )
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world_size, self.start_step = rank, world_size, start_step
        self._epoch, self._order = -1, np.empty(0, dtype=np.int64)

    def permutation(self, epoch: int) -> np.ndarray:
        """The sample order of `epoch` `(size,)`, from (seed, epoch) only."""
        if epoch != self._epoch:
            rng = np.random.default_rng(seed_sequence(self.seed, epoch))
            self._epoch, self._order = epoch, rng.permutation(self.size)
        return self._order

    def key(self, position: int) -> tuple[int, int]:
        """The key at `position` of the global stream: (sample index, draw = position)."""
        epoch, offset = divmod(position, self.size)
        return int(self.permutation(epoch)[offset]), position

    def __iter__(self) -> Iterator[tuple[int, int]]:
        step_width = self.batch_size * self.world_size
        for step in itertools.count(self.start_step):
            first = step * step_width + self.rank * self.batch_size
            for position in range(first, first + self.batch_size):
                yield self.key(position)


class MixedBatchLoader:
    """Iterates steps forever: `{source name: collated batch}` with every source each step.

    One DataLoader per source, its batches from a `ShardedInfiniteSampler` (seeded per
    source); `num_workers` worker processes per source, kept alive between iterations;
    `pin_memory` puts batches in page-locked memory (for non-blocking copies to CUDA).
    A batch whose samples were all unreadable is replaced by the source's next batch
    (logged; its `skipped` count carries over); after 50 in a row, DataError.
    """

    def __init__(
        self,
        datasets: Sequence[SourceDataset],
        seed: int,
        rank: int,
        world_size: int,
        num_workers: int = 0,
        start_step: int = 0,
        pin_memory: bool = False,
    ) -> None:
        self.names = [dataset.config.name for dataset in datasets]
        self.loaders = [
            DataLoader(
                dataset,
                batch_sampler=BatchSampler(
                    ShardedInfiniteSampler(
                        len(dataset),
                        dataset.config.batch_size,
                        derive_seed(seed, dataset.config.name),
                        rank,
                        world_size,
                        start_step,
                    ),
                    dataset.config.batch_size,
                    drop_last=True,
                ),
                collate_fn=collate,
                num_workers=num_workers,
                persistent_workers=num_workers > 0,
                pin_memory=pin_memory,
            )
            for dataset in datasets
        ]

    def __iter__(self) -> Iterator[dict[str, dict[str, Any]]]:
        iterators = [iter(loader) for loader in self.loaders]
        while True:
            yield {
                name: self._next(name, iterator)
                for name, iterator in zip(self.names, iterators, strict=True)
            }

    @staticmethod
    def _next(name: str, iterator: Iterator[dict[str, Any]]) -> dict[str, Any]:
        skipped = 0
        for _ in range(MAX_EMPTY_BATCHES):
            batch = next(iterator)
            skipped += batch["skipped"]
            if "image" in batch:
                return {**batch, "skipped": skipped}
            log.warning("source %r: every image of a batch was unreadable; next batch", name)
        raise DataError(f"data source {name!r}: {MAX_EMPTY_BATCHES} batches in a row unreadable")
