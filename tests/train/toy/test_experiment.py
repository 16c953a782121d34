"""The toy experiment end to end (generator -> train -> attention diagnostic -> eval), tiny."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from larvseg.modeling.classifier import CosineClassifier
from larvseg.modeling.model import LarvSegModel
from larvseg.train.ca.attention import CAClassifierLoss
from larvseg.train.ca.diagnostics import attention_share, region_fractions
from larvseg.train.ca.memory_bank import MemoryBank
from larvseg.train.toy.experiment import (
    PHASES,
    SMOKE_OVERRIDES,
    SMOKE_SPEC,
    load_result,
    run_toy,
    save_result,
)
from larvseg.train.toy.generate import ToySpec, generate

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("toy"), ToySpec(seed=0, **SMOKE_SPEC), progress=False)


@pytest.mark.parametrize("method", ["supervised", "baseline", "larvseg"])
def test_smoke_run_trains_measures_and_evaluates(toy: Path, tmp_path: Path, method: str) -> None:
    config = REPO / "configs" / "toy" / f"{method}.yaml"
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


def test_region_fractions_known_answer() -> None:
    target = torch.zeros(4, 4, dtype=torch.long)
    target[:2, :3] = 1
    fractions = region_fractions(target, torch.tensor([1, 0]), patch=2)
    assert torch.equal(fractions[0], torch.tensor([[1.0, 0.5], [0.0, 0.0]]))
    assert torch.equal(fractions[0] + fractions[1], torch.ones(2, 2))


def test_attention_share_on_constructed_embeddings(tiny_cosine_config: Any) -> None:
    """Left half of the image embeds as e0 (class 0), right half as e1 (class 1); banks
    hold e0 and e1. Then s_fg - s_bg = +-1 on the two halves, the attention of label 0
    is sigmoid(+1) on its half and sigmoid(-1) on the other: share sigmoid(1)."""
    model = LarvSegModel(tiny_cosine_config(["n01440764", "n02123045"], image_size=32))
    classifier = model.classifier
    assert isinstance(classifier, CosineClassifier)
    e0, e1 = torch.eye(16)[0], torch.eye(16)[1]
    with torch.no_grad():
        classifier.patch_proj.copy_(torch.eye(32)[:, :16])
    features = torch.zeros(1, 32, 2, 2)
    features[0, :16, :, 0] = e0[:, None]
    features[0, :16, :, 1] = e1[:, None]
    model.forward_features = lambda x: features  # type: ignore[method-assign]
    bank = MemoryBank(2, 16, size=1, topk=1)
    bank.update(torch.tensor([0, 1]), torch.stack([e0, e1]))
    target = torch.zeros(32, 32, dtype=torch.long)
    target[:, 16:] = 1
    item = {"image": torch.zeros(3, 32, 32), "target": target}
    share = attention_share(
        model, bank, CAClassifierLoss(), [item], torch.tensor([0, 1]), torch.tensor([False, True])
    )
    expected = torch.sigmoid(torch.tensor(1.0)).item()
    assert share.pairs == 2 and share.novel_pairs == 1
    assert share.attention == pytest.approx(expected, abs=1e-4)
    assert share.novel_attention == pytest.approx(expected, abs=1e-4)
    assert share.area == pytest.approx(0.5) and share.novel_area == pytest.approx(0.5)
