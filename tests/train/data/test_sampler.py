"""Sharded infinite sampling and mixed batches: partition, exact resume, every source per step."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from larvseg.train.data.dataset import DataSourceConfig, build_dataset
from larvseg.train.data.sampler import MixedBatchLoader, ShardedInfiniteSampler

MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def steps(sampler: ShardedInfiniteSampler, count: int) -> list[list[tuple[int, int]]]:
    keys = list(itertools.islice(iter(sampler), count * sampler.batch_size))
    return [keys[i : i + sampler.batch_size] for i in range(0, len(keys), sampler.batch_size)]


def test_ranks_partition_each_step_and_cover_the_epoch() -> None:
    size, batch, world = 24, 3, 4
    shards = [
        steps(ShardedInfiniteSampler(size, batch, 5, rank, world), 2) for rank in range(world)
    ]
    seen = []
    for step in range(2):
        keys = [key for shard in shards for key in shard[step]]
        assert len({draw for _, draw in keys}) == batch * world
        seen += [index for index, _ in keys]
    assert sorted(seen) == list(range(size))


def test_epochs_are_different_permutations_with_new_draws() -> None:
    first, second = steps(ShardedInfiniteSampler(10, 10, 0), 2)
    assert sorted(i for i, _ in first) == sorted(i for i, _ in second) == list(range(10))
    assert [i for i, _ in first] != [i for i, _ in second]
    assert [d for _, d in second] == list(range(10, 20))


@pytest.mark.parametrize("world", [1, 3])
def test_start_step_resumes_the_uninterrupted_stream(world: int) -> None:
    for rank in range(world):
        full = steps(ShardedInfiniteSampler(7, 2, 1, rank, world), 12)
        resumed = steps(ShardedInfiniteSampler(7, 2, 1, rank, world, start_step=5), 7)
        assert resumed == full[5:]


def test_bad_sampler_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="rank=2"):
        ShardedInfiniteSampler(5, 2, 0, rank=2, world_size=2)


@pytest.fixture()
def two_sources(
    tmp_path: Path,
    real_images: list[Path],
    ade_layout: Callable[..., Path],
    ade_source: Callable[..., DataSourceConfig],
    imagenet_tree: Callable[..., Path],
) -> list:
    seg = build_dataset(ade_source(ade_layout(tmp_path / "ade"), batch_size=2), MEAN, STD)
    tree = imagenet_tree(tmp_path / "imagenet", real_images[:4])
    config = DataSourceConfig("imagenet", "singlelabel", str(tree), crop_size=32, batch_size=3)
    return [seg, build_dataset(config, MEAN, STD)]


def take(loader: MixedBatchLoader, count: int) -> list[dict]:
    return list(itertools.islice(iter(loader), count))


def test_mixed_loader_gives_every_source_each_step(two_sources: list) -> None:
    for batches in take(MixedBatchLoader(two_sources, seed=0, rank=0, world_size=1), 3):
        assert set(batches) == {"ade", "imagenet"}
        assert batches["ade"]["image"].shape == (2, 3, 32, 32)
        assert batches["ade"]["target"].shape == (2, 32, 32)
        assert batches["imagenet"]["image"].shape == (3, 3, 32, 32)
        assert batches["imagenet"]["labels"].shape == (3, 1)


def test_mixed_loader_is_independent_of_workers_and_resumes_exactly(two_sources: list) -> None:
    plain = take(MixedBatchLoader(two_sources, seed=3, rank=0, world_size=1), 4)
    workers = take(MixedBatchLoader(two_sources, 3, 0, 1, num_workers=2, start_step=2), 2)
    for expected, got in zip(plain[2:], workers, strict=True):
        for name in expected:
            assert torch.equal(expected[name]["image"], got[name]["image"])
            assert expected[name]["paths"] == got[name]["paths"]
