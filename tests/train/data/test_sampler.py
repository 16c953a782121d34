"""Sharded infinite sampling and mixed batches: partition, exact resume, every source per step."""

from __future__ import annotations

import itertools
import re
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


@pytest.fixture(params=["files", "webdataset", "hf"])
def twelve_samples(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    png_bytes: Callable[[int], bytes],
) -> DataSourceConfig:
    """A 12-sample single-label source in each format; sample i is `png_bytes(i)`, class i % 3."""
    wnids = ["n01440764", "n02084071", "n02123045"]
    fields = {"crop_size": 8, "batch_size": 3, "classes": wnids}
    if request.param == "files":
        for i in range(12):
            (tmp_path / "in" / wnids[i % 3]).mkdir(parents=True, exist_ok=True)
            (tmp_path / "in" / wnids[i % 3] / f"{i:02d}.png").write_bytes(png_bytes(i))
        return DataSourceConfig("src", "singlelabel", str(tmp_path / "in"), **fields)
    if request.param == "webdataset":
        folder = request.getfixturevalue("write_shards")(
            tmp_path / "wds", [str(i % 3) for i in range(12)]
        )
    else:
        folder = request.getfixturevalue("write_hf_dataset")(
            tmp_path / "hf", [i % 3 for i in range(12)]
        )
    return DataSourceConfig("src", "singlelabel", str(folder), format=request.param, **fields)


def test_each_sample_once_per_epoch_over_ranks_and_workers_and_exact_resume(
    twelve_samples: DataSourceConfig, tmp_path: Path
) -> None:
    """2 ranks x 2 workers, 3 per batch: each epoch (2 steps) reads all 12 samples once."""
    dataset = build_dataset(twelve_samples, MEAN, STD, index_dir=tmp_path / "index")
    everything = sorted(dataset.store.path(i) for i in range(12))
    ranks = [take(MixedBatchLoader([dataset], 5, rank, 2, num_workers=2), 4) for rank in (0, 1)]
    epochs = []
    for epoch in (0, 1):
        batches = [steps[step]["src"] for steps in ranks for step in (2 * epoch, 2 * epoch + 1)]
        paths = [path for batch in batches for path in batch["paths"]]
        assert sorted(paths) == everything
        labels = [int(label) for batch in batches for label in batch["labels"][:, 0]]
        assert labels == [int(re.findall(r"\d+", path)[-1]) % 3 for path in paths]
        epochs.append(paths)
    assert epochs[0] != epochs[1]
    resumed = take(MixedBatchLoader([dataset], 5, 1, 2, num_workers=2, start_step=3), 1)[0]
    assert resumed["src"]["paths"] == ranks[1][3]["src"]["paths"]
    assert torch.equal(resumed["src"]["image"], ranks[1][3]["src"]["image"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pinned memory needs CUDA")
def test_pin_memory_gives_pinned_batches(two_sources: list) -> None:
    pinned = take(MixedBatchLoader(two_sources, 0, 0, 1, num_workers=1, pin_memory=True), 1)[0]
    plain = take(MixedBatchLoader(two_sources, 0, 0, 1), 1)[0]
    for name, batch in pinned.items():
        assert batch["image"].is_pinned() and not plain[name]["image"].is_pinned()
        assert torch.equal(batch["image"], plain[name]["image"])
