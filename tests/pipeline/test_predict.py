"""`PredictOptions` checks its values once, naming the option."""

from __future__ import annotations

import pytest

from larvseg.errors import InputError
from larvseg.pipeline.predict import PredictOptions


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stride": 0}, "stride=0 must be a positive whole number"),
        ({"window": -32}, "window=-32 must be a positive whole number"),
        ({"window_step": 2.5}, "window_step=2.5 must be a positive whole number"),
        ({"size": True}, "size=True must be a positive whole number"),
        ({"batch_size": 0}, "batch_size=0 must be a positive whole number"),
        ({"batch_size": 2.0}, "batch_size=2.0 must be a positive whole number"),
        ({"k": 0}, "k=0 must be a positive whole number"),
    ],
)
def test_a_value_that_is_not_a_count_is_refused_by_name(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        PredictOptions(**options)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_the_defaults_and_none_are_valid() -> None:
    assert PredictOptions() == PredictOptions(size=None, window=None, k=8, batch_size=None)
    assert PredictOptions(k=None).k is None  # exact argmax


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stride": 5}, "stride=5 must be a divisor of the patch size 16 (e.g. 16 or 8)"),
        ({"stride": 32}, "stride=32 must be a divisor of the patch size 16 (e.g. 16 or 8)"),
        ({"window": 100}, "window=100 must be a multiple of the patch size 16"),
        ({"window_step": 24}, "window_step=24 must be a multiple of the patch size 16"),
        ({"size": 8}, "size=8 is smaller than the patch size 16"),
    ],
)
def test_fit_checks_what_depends_on_the_patch_size(options: dict[str, int], message: str) -> None:
    with pytest.raises(InputError) as caught:
        PredictOptions(**options).fit(16)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_fit_returns_the_stride_to_run_at() -> None:
    assert PredictOptions().fit(16) == 16
    assert PredictOptions(stride=8, window=64, window_step=32, size=16).fit(16) == 8
    assert PredictOptions(stride=1).fit(14) == 1
