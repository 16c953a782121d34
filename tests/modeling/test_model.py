"""The network: cosine classifier math, shapes, save/load round trip."""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import larvseg
from larvseg.config import ConfigError, ModelConfig
from larvseg.errors import CheckpointError
from larvseg.modeling.classifier import SCORE_NORM_EPS, CosineClassifier
from larvseg.modeling.model import LarvSegModel


def test_cosine_scores_match_the_formula() -> None:
    torch.manual_seed(0)
    head = CosineClassifier(in_dim=8, embed_dim=4, num_classes=6)
    features = torch.randn(2, 8, 3, 5)
    pixels, cosine = head.cosine(features)
    projected = torch.einsum("bdhw,de->bhwe", features, head.patch_proj)
    classes = head.class_embed @ head.class_proj
    expected = F.normalize(projected, dim=-1) @ F.normalize(classes, dim=-1).T
    torch.testing.assert_close(cosine, expected.permute(0, 3, 1, 2), atol=1e-6, rtol=0)
    assert cosine.abs().max() <= 1 + 1e-6
    torch.testing.assert_close(pixels.norm(dim=1), torch.ones(2, 3, 5))


def test_score_normalisation_standardises_each_pixel_then_scales() -> None:
    torch.manual_seed(0)
    head = CosineClassifier(in_dim=8, embed_dim=4, num_classes=6)
    with torch.no_grad():
        head.gamma.fill_(2.0)
        head.beta.fill_(0.5)
    cosine = torch.rand(1, 6, 2, 2)
    logits = head.normalize_scores(cosine)
    z = (cosine - cosine.mean(1, keepdim=True)) / (
        cosine.std(1, keepdim=True, unbiased=False) + SCORE_NORM_EPS
    )
    torch.testing.assert_close(logits, 2.0 * z + 0.5)
    torch.testing.assert_close(logits.mean(1), torch.full((1, 2, 2), 0.5))
    # monotonic per pixel: the argmax does not depend on the normalisation
    assert torch.equal(logits.argmax(1), cosine.argmax(1))


def test_class_subset_normalises_over_the_scored_classes_only() -> None:
    torch.manual_seed(0)
    head = CosineClassifier(in_dim=8, embed_dim=4, num_classes=6)
    features = torch.randn(1, 8, 2, 2)
    subset = torch.tensor([4, 1])
    _, full_cosine = head.cosine(features)
    _, sub_cosine = head.cosine(features, subset)
    torch.testing.assert_close(sub_cosine, full_cosine[:, subset])
    torch.testing.assert_close(
        head(features, subset), head.normalize_scores(full_cosine[:, subset])
    )


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_forward_shape_any_size_multiple_of_patch(kind: str) -> None:
    config = ModelConfig(
        backbone="vit_tiny_patch16_224",
        backbone_kwargs={"depth": 1, "embed_dim": 32, "num_heads": 2},
        classifier=kind,  # type: ignore[arg-type]
        categories=["n02084071", "n02121808", "n01503061"],
    )
    model = LarvSegModel(config).eval()
    assert model(torch.randn(2, 3, 48, 80)).shape == (2, 3, 3, 5)
    with pytest.raises(ValueError, match="multiple of the patch size 16"):
        model(torch.randn(1, 3, 50, 80))


def test_save_and_load_give_identical_outputs(cosine_model: LarvSegModel, tmp_path) -> None:
    cosine_model.save_pretrained(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {"config.json", "model.safetensors"}
    loaded = LarvSegModel.from_pretrained(tmp_path).eval()
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        assert torch.equal(cosine_model(x), loaded(x))
    assert loaded.config == replace(cosine_model.config, larvseg_version=larvseg.__version__)
    # the read tensors became trainable parameters of their own (no file mapping)
    assert all(isinstance(p, torch.nn.Parameter) and p.requires_grad for p in loaded.parameters())
    assert all(p.dtype == torch.float32 and not p.is_meta for p in loaded.parameters())


def test_checkpoint_of_a_newer_major_version_is_refused(
    cosine_model: LarvSegModel, tmp_path: Path
) -> None:
    cosine_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["larvseg_version"] == larvseg.__version__
    major = int(larvseg.__version__.split(".")[0])
    config["larvseg_version"] = f"{major + 1}.0.0"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        CheckpointError, match=rf"written by larvseg {major + 1}\.0\.0.*pip install -U"
    ):
        LarvSegModel.from_pretrained(tmp_path)
    config["larvseg_version"] = f"{major}.99.0"  # a newer minor version loads
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert LarvSegModel.from_pretrained(tmp_path).config.larvseg_version == f"{major}.99.0"


def test_version_is_the_installed_metadata_and_the_cli_prints_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from larvseg.cli.main import main

    assert importlib.metadata.version("larvseg") == larvseg.__version__
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"larvseg {larvseg.__version__}"


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="classifier='conv'"):
        ModelConfig(classifier="conv", categories=["n02084071"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="categories is empty"):
        ModelConfig(categories=[])
    with pytest.raises(ConfigError, match="duplicate"):
        ModelConfig(categories=["n02084071", "n02084071"])
    with pytest.raises(ConfigError, match="unknown config key 'colour'"):
        ModelConfig.from_dict({"categories": ["n02084071"], "colour": 1})


def test_skeleton_allocates_no_weights(tiny_cosine_config: Any) -> None:
    model = LarvSegModel.skeleton(tiny_cosine_config(["n02084071", "n02121808"]))
    assert all(t.is_meta for t in [*model.parameters(), *model.buffers()])


def test_backbone_with_computed_buffers_is_built_for_real_and_loads_exactly(
    tiny_cosine_config: Any, tmp_path: Path
) -> None:
    """EVA's rotary tables are non-persistent buffers: no checkpoint holds them, so the
    loader builds such a backbone on CPU instead of the meta device."""
    config = replace(
        tiny_cosine_config(["n02084071", "n02121808"]),
        backbone="eva02_tiny_patch14_224",
        backbone_kwargs={"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 16},
    )
    torch.manual_seed(0)
    model = LarvSegModel(config).eval()
    model.save_pretrained(tmp_path)
    assert not LarvSegModel.skeleton(config).backbone.vit.rope.bands.is_meta
    loaded = LarvSegModel.from_pretrained(tmp_path)
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_overlapping_patches_at_every_other_cell_are_the_plain_patches(
    tiny_cosine_config: Any,
) -> None:
    """Known answer at stride p/2: without blocks and position embedding every token is its
    own patch's, so cell (2i, 2j) of the dense grid is cell (i, j) of the plain one."""
    config = tiny_cosine_config(["n02084071", "n02121808"])
    config = replace(config, backbone_kwargs={**config.backbone_kwargs, "depth": 0})
    torch.manual_seed(0)
    model = LarvSegModel(config).eval()
    with torch.no_grad():
        model.backbone.vit.pos_embed.zero_()
        x = torch.randn(2, 3, 64, 48)
        plain = model.forward_features(x)
        dense = model.forward_features(x, stride=8)
    assert plain.shape[-2:] == (4, 3) and dense.shape[-2:] == (7, 5)
    torch.testing.assert_close(dense[..., ::2, ::2], plain, atol=1e-5, rtol=0)


def test_stride_is_exact_at_the_patch_size_and_denser_below(cosine_model: LarvSegModel) -> None:
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        assert torch.equal(cosine_model(x, stride=16), cosine_model(x))
        assert cosine_model(x, stride=4).shape == (1, 5, 13, 9)
        assert cosine_model.backbone.vit.patch_embed.proj.stride == (16, 16)  # restored
