"""Multi-process training under `torchrun`: process group, DDP wrapping, gathers.

One process per GPU (or several CPU processes with gloo). Without torchrun's
environment the run is a single process and every helper is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: `rank` of `world_size`, GPU `local_rank`."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed() -> tuple[DistInfo, torch.device]:
    """Read RANK / WORLD_SIZE / LOCAL_RANK (set by torchrun) and join the process group.

    Uses NCCL with one GPU per process when CUDA is available, gloo on CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    info = DistInfo(
        rank=int(os.environ.get("RANK", "0")),
        world_size=world_size,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    if torch.cuda.is_available():
        torch.cuda.set_device(info.local_rank)
        device = torch.device("cuda", info.local_rank)
    else:
        device = torch.device("cpu")
    if info.enabled and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return info, device


def destroy_distributed() -> None:
    """Leave the process group if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(module: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """`module` wrapped in DistributedDataParallel when running multi-process."""
    if not info.enabled:
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op single-process)."""
    if info.enabled:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum of `tensor` over ranks (in place; returned for convenience)."""
    if info.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def gather_rows(
    ids: torch.Tensor, rows: torch.Tensor, info: DistInfo
) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate variable-length `(ids (P,), rows (P, d))` of all ranks, in rank order.

    Every rank receives the same result, so applying it keeps replicated state equal.
    Each rank pads to the largest `P` for `all_gather` and the padding is dropped.
    """
    if not info.enabled:
        return ids, rows
    count = torch.tensor([ids.numel()], device=ids.device)
    counts = [torch.zeros_like(count) for _ in range(info.world_size)]
    dist.all_gather(counts, count)
    sizes = [int(c.item()) for c in counts]
    longest = max(sizes)
    if longest == 0:
        return ids, rows
    pad = longest - ids.numel()
    padded_ids = torch.cat([ids, ids.new_zeros(pad)])
    padded_rows = torch.cat([rows, rows.new_zeros(pad, rows.shape[1])])
    all_ids = [torch.empty_like(padded_ids) for _ in sizes]
    all_rows = [torch.empty_like(padded_rows) for _ in sizes]
    dist.all_gather(all_ids, padded_ids)
    dist.all_gather(all_rows, padded_rows)
    return (
        torch.cat([t[:n] for t, n in zip(all_ids, sizes, strict=True)]),
        torch.cat([t[:n] for t, n in zip(all_rows, sizes, strict=True)]),
    )
