"""The toy experiment end to end (generator -> train -> attention diagnostic -> eval), tiny."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from larvseg.train.toy.experiment import (
    PHASES,
    SMOKE_OVERRIDES,
    SMOKE_SPEC,
    load_result,
    run_toy,
    save_result,
)
from larvseg.train.toy.generate import ToySpec, generate


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("toy"), ToySpec(seed=0, **SMOKE_SPEC), progress=False)


@pytest.mark.parametrize("method", ["supervised", "baseline", "larvseg"])
def test_smoke_run_trains_measures_and_evaluates(toy: Path, tmp_path: Path, method: str) -> None:
    config = f"toy/{method}"
    overrides = [*SMOKE_OVERRIDES, f"data.index_dir={tmp_path / 'index'}"]
    result = run_toy(config, toy, tmp_path / "run", seed=1, overrides=overrides)
    assert (result.method, result.seed, result.iterations) == (method, 1, 6)
    assert all(0 <= result.miou[k] <= 100 for k in ("all", "base", "novel"))
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    if method == "larvseg":
        assert list(result.attention) == [phase for phase, _ in PHASES]
        end = result.attention["end"]
        assert end.pairs > 0 and 0 < end.attention < 1 and 0 < end.area < 1
        assert end.novel_pairs > 0 and not math.isnan(end.novel_attention)
    else:
        assert result.attention == {}
    save_result(result, tmp_path / "result.json")
    assert load_result(tmp_path / "result.json") == result
