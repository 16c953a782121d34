"""Random streams of a training run, all derived from its seed the same way.

Every stream (a sample's augmentation, an epoch's order, a step's class sample, a
toy image) is seeded by `seed_sequence(run seed, name or number, ...)`: numpy's
`SeedSequence` over the parts, with names hashed by CRC-32. Streams are thus fixed
by what they are for, independent of worker processes, prefetching and resuming.
"""

from __future__ import annotations

import zlib

import numpy as np


def seed_sequence(*parts: int | str) -> np.random.SeedSequence:
    """The seed of the stream named by `parts` (non-negative ints and strings)."""
    return np.random.SeedSequence(
        [zlib.crc32(part.encode("utf-8")) if isinstance(part, str) else int(part) for part in parts]
    )


def derive_seed(*parts: int | str) -> int:
    """`seed_sequence(*parts)` as one 63-bit integer (for `torch.Generator.manual_seed`)."""
    return int(seed_sequence(*parts).generate_state(1, np.uint64)[0] >> np.uint64(1))
