"""Every supported timm family as a dense segmenter: tiny random classifiers saved as on the
hub load through the one loader, their dense head is timm's head at each location (the
image logits are timm's), and `segment()` serves them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import timm
import torch
from timm.models import save_for_hf

from larvseg.errors import BackboneError, InputError
from larvseg.modeling.model import LarvSegModel
from larvseg.modeling.timm_convert import timm_family
from larvseg.segmenter import LarvSeg

TINY_VIT = {"depth": 1, "embed_dim": 32, "num_heads": 2}
FAMILIES: dict[str, tuple[str, dict[str, Any], str]] = {
    # id: (timm architecture, tiny kwargs, how the head pools: "token", "mean" or "mean+norm")
    "vit-token": ("vit_tiny_patch16_224", TINY_VIT, "token"),
    "vit-gap": ("vit_tiny_patch16_224", {**TINY_VIT, "global_pool": "avg"}, "mean+norm"),
    "vit-registers": ("vit_medium_patch16_reg4_gap_256", TINY_VIT, "mean+norm"),
    "deit3": ("deit3_small_patch16_224", TINY_VIT, "token"),
    "eva02": ("eva02_tiny_patch14_224", TINY_VIT, "mean+norm"),
    "clip-vit": ("vit_base_patch16_clip_224", TINY_VIT, "token"),
    "beitv2": ("beitv2_base_patch16_224", TINY_VIT, "mean+norm"),
    "swin": (
        "swin_tiny_patch4_window7_224",
        {"depths": (1, 1, 1, 1), "embed_dim": 16, "num_heads": (1, 1, 1, 1)},
        "mean",
    ),
    "convnext": (
        "convnext_atto",
        {"depths": (1, 1, 1, 1), "dims": (8, 16, 24, 32)},
        "mean+norm",
    ),
    "bit": ("resnetv2_50x1_bit", {"channels": (128, 128, 256, 256), "stem_chs": 32}, "mean"),
    "efficientnetv2": (
        "tf_efficientnetv2_s",
        {"channel_multiplier": 0.1, "depth_multiplier": 0.1},
        "mean",
    ),
}
PLAIN = {"vit-token", "vit-gap", "vit-registers", "deit3", "eva02", "clip-vit"}
"""ViT-family models with dynamic size and a convolutional patch embedding (any stride)."""


def _save(key: str, folder: Path, num_classes: int = 1000) -> tuple[torch.nn.Module, Path]:
    arch, kwargs, _ = FAMILIES[key]
    torch.manual_seed(0)
    dynamic = {"dynamic_img_size": True} if timm_family(arch).dynamic_size else {}
    model = timm.create_model(arch, pretrained=False, num_classes=num_classes, **kwargs, **dynamic)
    model.eval()
    with torch.no_grad():  # BN statistics and the heads' biases away from their init values
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and ("bias" in name or "running" in name):
                tensor.uniform_(*((0.5, 1.5) if "var" in name else (-0.3, 0.3)))
        for tensor in model.get_classifier().parameters():
            tensor.normal_(std=0.1)
    save_for_hf(model, str(folder), model_args=kwargs, safe_serialization=True)
    return model, folder


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(id, timm model, larvseg model loaded from its saved folder)."""
    key = request.param
    timm_model, folder = _save(key, tmp_path_factory.mktemp(key))
    return key, timm_model, LarvSegModel.from_pretrained(folder)


def _input(model: LarvSegModel) -> torch.Tensor:
    side = model.window_size or 4 * model.patch_size
    torch.manual_seed(1)
    return torch.randn(2, 3, side, side + (0 if model.window_size else 2 * model.patch_size))


def test_image_logits_are_timms_logits(family: Any) -> None:
    _, timm_model, model = family
    x = _input(model)
    with torch.no_grad():
        expected = timm_model(x)
        features = model.features(x)
        image = model.image_logits(features)
    assert image.shape == expected.shape == (2, 1000)
    torch.testing.assert_close(image, expected, atol=1e-5, rtol=0)


def test_dense_head_relation_to_the_image_logits(family: Any) -> None:
    """Linear head after average pooling: the mean of the per-location logits is timm's
    logits. A norm after the pooling: timm's logits are the dense head applied to the
    mean feature of the grid (the mean of the logits is not). A class token: timm's
    logits are the dense head applied to the class token."""
    key, timm_model, model = family
    x = _input(model)
    pooling = FAMILIES[key][2]
    with torch.no_grad():
        expected = timm_model(x)
        features = model.features(x)
        dense = model.classify(features.grid)
        of_mean = model.classify(features.grid.mean(dim=(2, 3), keepdim=True))[:, :, 0, 0]
    h, w = (x.shape[-2] - model.patch_size) // model.patch_size + 1, x.shape[-1] // model.patch_size
    assert dense.shape == (2, 1000, h, w)
    if pooling == "mean":
        torch.testing.assert_close(dense.mean(dim=(2, 3)), expected, atol=1e-5, rtol=0)
    elif pooling == "mean+norm":
        torch.testing.assert_close(of_mean, expected, atol=1e-5, rtol=0)
        assert (dense.mean(dim=(2, 3)) - expected).abs().max() > 1e-3
    else:
        assert features.image is not None
        assert (features.image - features.grid.mean(dim=(2, 3))).abs().max() > 1e-3


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_segment_gives_masks_at_the_input_size(family: Any, mode: str) -> None:
    _, _, model = family
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    segmenter = LarvSeg(model, device="cpu")
    size = model.window_size or 2 * model.patch_size
    for k in (None, 4):
        result = segmenter.segment(image, vocab=None, mode=mode, size=size, k=k)
        assert result.labels.shape == (50, 70)
        assert result.labels.max() < 1000 and (mode == "open" or result.labels.min() >= 0)


def test_stride_below_the_patch_runs_on_plain_vits_and_is_refused_elsewhere(family: Any) -> None:
    key, _, model = family
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    segmenter = LarvSeg(model, device="cpu")
    size = model.window_size or 2 * model.patch_size
    stride = model.patch_size // 2
    if key in PLAIN:
        assert segmenter.segment(image, vocab=None, size=size, stride=stride).labels.shape == (
            50,
            70,
        )
    else:
        with pytest.raises((InputError, BackboneError), match=f"stride {stride}"):
            segmenter.segment(image, vocab=None, size=size, stride=stride)


def test_unsupported_family_and_attention_pooling_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BackboneError, match="not a supported family"):
        timm_family("resnet18")
    model = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, num_classes=1000, global_pool="map", **TINY_VIT
    )
    save_for_hf(
        model, str(tmp_path), model_args={**TINY_VIT, "global_pool": "map"}, safe_serialization=True
    )
    with pytest.raises(BackboneError, match="attention"):
        LarvSegModel.from_pretrained(tmp_path)


def test_a_size_off_the_patch_grid_gets_windows_on_it(tmp_path: Path) -> None:
    """EVA02's patches are 14 pixels: size 64 makes 70-pixel inputs and windows."""
    _, folder = _save("eva02", tmp_path)
    segmenter = LarvSeg(LarvSegModel.from_pretrained(folder), device="cpu")
    image = np.random.default_rng(0).integers(0, 256, (50, 90, 3), dtype=np.uint8)
    assert segmenter.segment(image, vocab=None, size=64).labels.shape == (50, 90)
