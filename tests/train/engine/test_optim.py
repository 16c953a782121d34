"""The poly learning-rate schedule."""

from __future__ import annotations

import pytest

from larvseg.train.config import TrainConfig
from larvseg.train.engine.optim import poly_lr


def test_poly_schedule_runs_from_lr_to_min_lr() -> None:
    config = TrainConfig.from_dict({"optim": {"iterations": 100}})
    assert poly_lr(0, config) == pytest.approx(1e-3)
    assert poly_lr(100, config) == pytest.approx(1e-5)
    assert poly_lr(50, config) == pytest.approx((1e-3 - 1e-5) * 0.5**0.9 + 1e-5)
