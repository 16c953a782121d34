"""The checkpoint catalog: every entry is a supported family with timm's own class count and
pretrained input, and `larvseg models` prints it."""

from __future__ import annotations

import pytest
import timm
import torch

from larvseg.catalog import CHECKPOINTS, TOY_MIOU, checkpoint_table
from larvseg.cli.main import main
from larvseg.config import DEFAULT_MODEL, PAPER_INIT, ModelConfig
from larvseg.modeling.model import LarvSegModel
from larvseg.modeling.timm_convert import timm_categories, timm_family


@pytest.mark.parametrize("checkpoint", CHECKPOINTS, ids=lambda c: c.hub_id)
def test_entries_match_timms_registry(checkpoint) -> None:
    name = checkpoint.hub_id.removeprefix("timm/")
    config = timm.models.get_pretrained_cfg(name)
    assert config is not None and config.num_classes == checkpoint.classes
    timm_family(checkpoint.architecture)  # a supported family
    model = LarvSegModel.skeleton(
        ModelConfig(
            backbone=checkpoint.architecture,
            classifier="linear",
            categories=timm_categories({"num_classes": checkpoint.classes}),
        )
    )
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(
        checkpoint.params_m, abs=0.05
    )
    if getattr(getattr(model.backbone, "vit", None), "global_pool", None) == "token":
        assert checkpoint.pooling == "class token"
    elif isinstance(model.classifier.norm, torch.nn.Identity):
        assert checkpoint.pooling == "mean"
    else:
        assert checkpoint.pooling == "mean + norm"


def test_the_default_is_listed_first_and_the_command_prints_the_table(capsys) -> None:
    assert CHECKPOINTS[0].hub_id == DEFAULT_MODEL
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == checkpoint_table()
    assert all(c.hub_id in out for c in CHECKPOINTS)
    assert f"| {DEFAULT_MODEL} (default) | 21,841 | mean + norm |" in out
    assert f"| {PAPER_INIT} | 21,843 | class token |" in out


def test_the_default_pools_by_the_mean_and_has_a_22k_head() -> None:
    """The toy experiment's evidence (docs/weights.md): a mean-pooled head, 21K/22K classes."""
    default = CHECKPOINTS[0]
    assert default.pooling != "class token" and default.classes >= 21841
    assert TOY_MIOU[default.pooling][0] > 2 * TOY_MIOU["class token"][0]
