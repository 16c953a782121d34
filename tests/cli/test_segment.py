"""`larvseg segment` under torchrun: two CPU processes (gloo) share a folder of images."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest
import torch.multiprocessing as mp

from larvseg.cli.main import main

pytestmark = pytest.mark.slow


def _rank(rank: int, port: int, args: list[str]) -> None:
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    code = main(args)
    if code != 0:
        raise RuntimeError(f"rank {rank} exited with {code}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_two_ranks_write_each_output_exactly_once(
    timm_checkpoint: Path, real_images: list[Path], tmp_path: Path
) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    for path in real_images[:5]:
        shutil.copy(path, folder / path.name)
    args = ["segment", str(folder), "--model", str(timm_checkpoint), "--device", "cpu"]
    args += ["--workers", "0", "--vocab", "dog.n.01", "cat.n.01", "-o", str(out)]
    for attempt in range(3):  # gloo's TCP transport flake, as in tests/train/engine/test_ddp.py
        try:
            mp.spawn(_rank, args=(_free_port(), args), nprocs=2, join=True)
            break
        except mp.ProcessRaisedException as err:
            if "gloo/transport/tcp" not in str(err) or attempt == 2:
                raise
    summary = json.loads((out / "larvseg-summary.json").read_text())
    # 5 writes in all, one per rank's file, and all 5 outputs exist: each exactly once
    assert summary["segmented_per_process"] == [3, 2]
    assert summary["files"] == summary["segmented"] == 5 and summary["failed"] == []
    written = sorted(p.name.removesuffix("_labels.png") for p in out.glob("*_labels.png"))
    assert written == sorted(p.stem for p in real_images[:5])
