"""The compact memory bank against a naive bank that keeps every stored feature."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from larvseg.train.ca.memory_bank import MemoryBank


class NaiveBank:
    """Reference: per class, the last `size` updates of `K` unit features each."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.banks: dict[int, list[torch.Tensor]] = {}

    def update(self, class_id: int, features: torch.Tensor) -> None:
        """features `(K, d)` unit vectors of one update."""
        ring = self.banks.setdefault(class_id, [])
        ring.append(features)
        del ring[: -self.size]

    def score(self, class_id: int, pixels: torch.Tensor) -> torch.Tensor:
        """Average cosine of pixels `(N, d)` to every feature stored for the class."""
        stored = torch.cat(self.banks[class_id])
        return (pixels @ stored.T).mean(dim=1)


def top_features(pixels: torch.Tensor, score_map: torch.Tensor, k: int) -> torch.Tensor:
    """Unit features `(K, d)` of the top-k pixels of one map; pixels `(d, h, w)`."""
    index = score_map.flatten().topk(k).indices
    return F.normalize(pixels.flatten(1)[:, index].T, dim=1)


def random_batch(generator: torch.Generator, batch: int, dim: int, num_pairs: int):
    pixels = F.normalize(
        torch.randn(batch, dim, 4, 5, generator=generator, dtype=torch.float64), dim=1
    )
    maps = torch.randn(num_pairs, 4, 5, generator=generator, dtype=torch.float64)
    image_index = torch.randint(0, batch, (num_pairs,), generator=generator)
    return pixels, maps, image_index


def test_compact_bank_matches_naive_bank() -> None:
    generator = torch.Generator().manual_seed(0)
    num_classes, dim, size, k = 7, 6, 3, 4
    bank = MemoryBank(num_classes, dim, size=size, topk=k, dtype=torch.float64, chunk=2)
    naive = NaiveBank(size)
    for step in range(6):
        # repeated classes in one call; more repeats than `size` on step 3 (wrap-around)
        class_ids = torch.randint(0, 4, (5,), generator=generator)
        if step == 3:
            class_ids = torch.tensor([1, 1, 1, 1, 1, 2])
        pixels, maps, image_index = random_batch(generator, 3, dim, class_ids.numel())
        entries = bank.entries_from_topk(pixels, maps, image_index)
        bank.update(class_ids, entries)
        for p, class_id in enumerate(class_ids.tolist()):
            naive.update(class_id, top_features(pixels[image_index[p]], maps[p], k))
        queries = F.normalize(torch.randn(50, dim, generator=generator, dtype=torch.float64), dim=1)
        seen = sorted(naive.banks)
        means = bank.mean(torch.tensor(seen)).double()
        for row, class_id in enumerate(seen):
            expected = naive.score(class_id, queries)
            torch.testing.assert_close(queries @ means[row], expected, atol=1e-6, rtol=0)
        counts = torch.tensor([len(naive.banks[c]) for c in seen])
        torch.testing.assert_close(bank.count[seen].clamp(max=size), counts)


def test_update_in_one_call_equals_sequential_updates() -> None:
    generator = torch.Generator().manual_seed(1)
    ids = torch.tensor([2, 0, 2, 2, 2, 0, 2, 2])
    entries = torch.randn(ids.numel(), 4, generator=generator)
    together = MemoryBank(5, 4, size=3)
    together.update(ids, entries)
    one_by_one = MemoryBank(5, 4, size=3)
    for i in range(ids.numel()):
        one_by_one.update(ids[i : i + 1], entries[i : i + 1])
    every = torch.arange(5)
    torch.testing.assert_close(together.count, one_by_one.count)
    torch.testing.assert_close(together.mean(every), one_by_one.mean(every))
    ring = together.storage[together.slot[2]]
    assert {tuple(r.tolist()) for r in ring} == {tuple(r.tolist()) for r in entries[[4, 6, 7]]}


def test_warm_up() -> None:
    bank = MemoryBank(4, 3, size=3)
    ids = torch.tensor([1, 2])
    for _ in range(2):
        bank.update(torch.tensor([1]), torch.randn(1, 3))
        assert not bank.ready(ids).any()
    bank.update(torch.tensor([1]), torch.randn(1, 3))
    assert bank.ready(ids).tolist() == [True, False]
    bank.update(torch.tensor([2, 2, 2]), torch.randn(3, 3))
    assert bank.ready(ids).all()


def test_lazy_allocation() -> None:
    bank = MemoryBank(1000, 8, size=4, chunk=16)
    assert bank.storage.numel() == 0 and bank.num_allocated == 0
    assert bank.mean(torch.tensor([3, 5])).abs().sum() == 0
    bank.update(torch.tensor([10, 500, 10]), torch.randn(3, 8))
    assert bank.num_allocated == 2
    assert bank.storage.shape == (16, 4, 8)
    assert (bank.slot >= 0).nonzero().flatten().tolist() == [10, 500]
    assert bank.mean(torch.tensor([3])).abs().sum() == 0
    bank.update(torch.arange(100, 120), torch.randn(20, 8))
    assert bank.num_allocated == 22 and bank.storage.shape[0] == 32
    assert bank.nbytes == 32 * 4 * 8 * 4 + 2 * 1000 * 8


def test_state_dict_round_trip() -> None:
    generator = torch.Generator().manual_seed(2)
    bank = MemoryBank(50, 6, size=2, chunk=4)
    bank.update(torch.tensor([3, 7, 3, 9, 11, 40]), torch.randn(6, 6, generator=generator))
    restored = MemoryBank(50, 6, size=2, chunk=4)
    restored.load_state_dict(bank.state_dict())
    ids = torch.tensor([3, 7, 9, 11, 40, 0])
    torch.testing.assert_close(restored.mean(ids), bank.mean(ids))
    torch.testing.assert_close(restored.ready(ids), bank.ready(ids))
    with pytest.raises(RuntimeError):
        MemoryBank(50, 6, size=3).load_state_dict(bank.state_dict())


def test_entries_are_detached_fp32_under_bf16() -> None:
    pixels = F.normalize(torch.randn(2, 8, 3, 3), dim=1).bfloat16().requires_grad_()
    bank = MemoryBank(3, 8, topk=4)
    entries = bank.entries_from_topk(pixels, torch.randn(2, 3, 3), torch.tensor([1, 0]))
    assert entries.dtype == torch.float32 and not entries.requires_grad
    assert entries.shape == (2, 8)
