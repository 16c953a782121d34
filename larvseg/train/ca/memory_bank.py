"""The exact compact memory bank of the CA-Classifier (docs/method.md).

An update for category `l` takes the `K` pixels with the highest raw cosine score
`S[:, l]` and would store their `K` unit, detached features. The CA-Classifier only
ever scores a unit pixel feature `f` by its average cosine to everything stored,
`avg_{j,k} f . m_jk = f . mean_j(mean_k m_jk)`, so one update is stored as the mean
of its `K` features (one "entry") and a category's bank is `(size, dim)`, not
`(size, K, dim)`: the same scores, `K` times less memory.

Storage is lazy: only categories that received an update own a row of the storage
tensor, which grows by chunks of `chunk` categories. All 21,843 categories at
dim 768, size 20, fp32 would take 21,843 x 20 x 768 x 4 B = 1.34 GB (0.67 GB in
bf16/fp16); the naive `(size, K, dim)` bank with K = 40 would take 53.7 GB.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class MemoryBank(nn.Module):
    """Per-category ring buffer of the last `size` compact entries.

    Buffers (all in `state_dict`): `slot (num_classes,)` storage row of each category
    (-1 = none yet), `count (num_classes,)` updates received so far, `storage
    (capacity, size, dim)` the entries.

    Args:
        num_classes: number of model categories `C` (bank index = model class index).
        dim: embedding width `d`.
        size: updates kept per category (`M`, paper 20).
        topk: pixels per update (`K`, paper 20).
        dtype: storage dtype; statistics are always computed in fp32.
        chunk: storage grows by this many categories at a time.
    """

    slot: torch.Tensor
    count: torch.Tensor
    storage: torch.Tensor

    def __init__(
        self,
        num_classes: int,
        dim: int,
        size: int = 20,
        topk: int = 20,
        dtype: torch.dtype = torch.float32,
        *,
        chunk: int = 256,
    ) -> None:
        super().__init__()
        if min(num_classes, dim, size, topk, chunk) < 1:
            raise ValueError("num_classes, dim, size, topk and chunk must be positive")
        self.num_classes = num_classes
        self.dim = dim
        self.size = size
        self.topk = topk
        self.chunk = chunk
        self.register_buffer("slot", torch.full((num_classes,), -1, dtype=torch.long))
        self.register_buffer("count", torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer("storage", torch.zeros(0, size, dim, dtype=dtype))

    @property
    def num_allocated(self) -> int:
        """Number of categories holding storage."""
        return int((self.slot >= 0).sum())

    @property
    def nbytes(self) -> int:
        """Bytes held by the bank's buffers (storage capacity included)."""
        return sum(b.numel() * b.element_size() for b in (self.slot, self.count, self.storage))

    def entries_from_topk(
        self, pixels: torch.Tensor, score_maps: torch.Tensor, image_index: torch.Tensor
    ) -> torch.Tensor:
        """Compact entries of a batch of updates, detached, fp32.

        pixels `(B, d, h, w)` unit embeddings, score_maps `(P, h, w)` the raw cosine
        map of each update's category on its image, image_index `(P,)` -> `(P, d)`:
        the mean of the re-normalised features of the top-`topk` pixels of each map.
        """
        dim = pixels.shape[1]
        flat = pixels.detach().float().flatten(2).transpose(1, 2).reshape(-1, dim)
        scores = score_maps.detach().flatten(1)
        k = min(self.topk, scores.shape[1])
        top = scores.topk(k, dim=1).indices
        rows = image_index.to(top.device)[:, None] * scores.shape[1] + top
        return F.normalize(flat[rows], dim=-1).mean(dim=1)

    def update(self, class_ids: torch.Tensor, entries: torch.Tensor) -> None:
        """Write `entries (P, d)` to the rings of `class_ids (P,)`, in order.

        Several updates of one category in one call are applied in order (only the
        last `size` of them survive), exactly as `P` single updates would be.
        """
        if class_ids.numel() == 0:
            return
        ids = class_ids.to(self.count.device, torch.long)
        rows = entries.detach().to(self.storage.device, self.storage.dtype)
        sorted_ids, order = torch.sort(ids, stable=True)
        unique, counts = torch.unique_consecutive(sorted_ids, return_counts=True)
        self._allocate(unique)
        starts = torch.repeat_interleave(counts.cumsum(0) - counts, counts)
        rank = torch.arange(ids.numel(), device=ids.device) - starts
        keep = rank >= torch.repeat_interleave(counts, counts) - self.size
        kept_ids = sorted_ids[keep]
        position = (self.count[kept_ids] + rank[keep]) % self.size
        self.storage[self.slot[kept_ids], position] = rows[order[keep]]
        self.count.index_add_(0, unique, counts)

    def ready(self, class_ids: torch.Tensor) -> torch.Tensor:
        """Warm-up rule: bool `(N,)`, True where the category's ring is full."""
        return self.count[class_ids] >= self.size

    def mean(self, class_ids: torch.Tensor) -> torch.Tensor:
        """Mean of the stored entries `(N, d)` fp32 (zeros for a category never updated).

        For a unit feature `f`, `f . mean` is its average cosine to every feature the
        naive bank would hold.
        """
        slots = self.slot[class_ids]
        out = torch.zeros(slots.numel(), self.dim, device=slots.device)
        if self.storage.shape[0] == 0:
            return out
        stored = self.count[class_ids].clamp(min=1, max=self.size)
        sums = self.storage[slots.clamp(min=0)].float().sum(dim=1)
        return torch.where((slots >= 0)[:, None], sums / stored[:, None], out)

    def _allocate(self, class_ids: torch.Tensor) -> None:
        """Give storage rows to those of the unique `class_ids` that have none yet."""
        new = class_ids[self.slot[class_ids] < 0]
        if new.numel() == 0:
            return
        used = self.num_allocated
        needed = used + new.numel()
        capacity = self.storage.shape[0]
        if needed > capacity:
            grown = min(self.num_classes, -(-needed // self.chunk) * self.chunk)
            extra = self.storage.new_zeros(grown - capacity, self.size, self.dim)
            self.storage = torch.cat([self.storage, extra])
        self.slot[new] = torch.arange(used, needed, device=self.slot.device)

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        """Resize the lazily grown storage to the checkpoint's capacity before loading."""
        stored = state_dict.get(prefix + "storage")
        if isinstance(stored, torch.Tensor) and stored.dim() == 3:
            self.storage = self.storage.new_zeros(stored.shape[0], self.size, self.dim)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, dim={self.dim}, size={self.size}, "
            f"topk={self.topk}, allocated={self.num_allocated}"
        )
