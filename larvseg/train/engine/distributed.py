"""Multi-process training under `torchrun`: DDP wrapping and the gathers of training.

The process group itself (`DistInfo`, `init_distributed`) is `larvseg.distributed`.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from ...distributed import DistInfo


def wrap_ddp(module: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """`module` wrapped in DistributedDataParallel when running multi-process."""
    if not info.enabled:
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)


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
