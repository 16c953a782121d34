"""Training checkpoints hold only tensors and plain data; anything else is refused."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from larvseg.train.engine.checkpoint import load_checkpoint, rng_state, set_rng_state
from larvseg.train.errors import ResumeError


class Payload:
    """A pickled object a checkpoint must never contain (unpickling it could run code)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this ran while loading",))


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path: Path) -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    torch.save({"iteration": 5, "rng": rng_state()}, tmp_path / "state.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    state = load_checkpoint(tmp_path / "state.pt")  # weights_only=True accepts it
    set_rng_state(state["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_checkpoint_with_a_pickled_object_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.save({"iteration": 1, "extra": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ResumeError, match="other than tensors and plain data"):
        load_checkpoint(tmp_path / "evil.pt")
    assert "this ran" not in capsys.readouterr().out
