"""Two CPU processes (gloo): different data per rank, identical weights and memory banks,
evaluation on rank 0 while the other waits."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from larvseg.distributed import destroy_distributed, init_distributed
from larvseg.modeling.model import LarvSegModel
from larvseg.train.config import TrainConfig
from larvseg.train.data.sampler import MixedBatchLoader
from larvseg.train.engine.trainer import Trainer

pytestmark = pytest.mark.slow


def _worker(rank: int, tmp_path: Path, config: TrainConfig) -> None:
    info, device = init_distributed()
    try:
        trainer = Trainer(config, info, device)
        loader = MixedBatchLoader(trainer.datasets, trainer.config.seed, rank, 2)
        first = next(iter(loader))
        trainer.train()
        assert trainer.bank is not None
        result = {
            "model": trainer.model.state_dict(),
            "bank": trainer.bank.state_dict(),
            "paths": {name: batch["paths"] for name, batch in first.items()},
        }
        torch.save(result, tmp_path / f"rank{rank}.pt")
    finally:
        destroy_distributed()


def test_two_gloo_ranks_hold_identical_weights_and_banks(
    tmp_path: Path, run_config: Callable[..., TrainConfig], spawn_two_ranks: Callable[..., None]
) -> None:
    # data and the initial model are written once, before the ranks start
    config = run_config(tmp_path, iterations=3, checkpoint_every=3)
    # rank 0 evaluates after iteration 2 (and 3) while rank 1 waits, then both go on
    config.data.eval_sources = [dataclasses.replace(config.data.sources[0], name="val")]
    config.eval_every = 2
    spawn_two_ranks(_worker, tmp_path, config)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=False)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=False)
    assert rank0["paths"] != rank1["paths"]  # each rank reads its own shard
    for name, value in rank0["model"].items():
        assert torch.equal(value, rank1["model"][name]), name
    for name, value in rank0["bank"].items():
        assert torch.equal(value, rank1["bank"][name]), name
    initial = LarvSegModel.from_pretrained(tmp_path / "init").state_dict()
    assert not torch.equal(
        rank0["model"]["classifier.class_embed"], initial["classifier.class_embed"]
    )
    # 3 steps x 2 ranks x 2 image-level sources x 2 images x >= 1 label each
    assert int(rank0["bank"]["count"].sum()) >= 3 * 2 * 2 * 2
    assert (tmp_path / "out" / "checkpoints" / "iter_00000003.pt").is_file()
    evaluated = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").open()]
    assert [r["iteration"] for r in evaluated if "eval/miou" in r] == [2, 3]
    assert (tmp_path / "out" / "best" / "best.json").is_file()
