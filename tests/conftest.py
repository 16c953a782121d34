"""Shared fixtures: tiny timm/larvseg checkpoints with random weights, real data paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from timm.models import save_for_hf

from larvseg.config import ModelConfig
from larvseg.model import LarvSegModel

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TINY_VIT = {"depth": 1, "embed_dim": 32, "num_heads": 2}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` (real photos and ADE20K scenes); skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_images(shared_data: Path) -> list[Path]:
    """The 20 real ImageNet photos."""
    return sorted((shared_data / "real-images").glob("*.JPEG"))


def make_timm_classifier(
    num_classes: int = 1000, global_pool: str = "token", seed: int = 0
) -> torch.nn.Module:
    """A tiny timm ViT classifier with random weights (eval mode)."""
    torch.manual_seed(seed)
    model = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        num_classes=num_classes,
        global_pool=global_pool,
        **TINY_VIT,
    )
    return model.eval()


def save_timm_checkpoint(model: torch.nn.Module, folder: Path, global_pool: str = "token") -> Path:
    """Save `model` exactly in the hub's timm layout (config.json + model.safetensors)."""
    save_for_hf(
        model,
        str(folder),
        model_args={**TINY_VIT, "global_pool": global_pool},
        safe_serialization=True,
    )
    return folder


@pytest.fixture(scope="session")
def timm_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ImageNet-1k timm classifier saved in the hub's layout."""
    folder = tmp_path_factory.mktemp("timm_vit")
    return save_timm_checkpoint(make_timm_classifier(), folder)


def tiny_cosine_config(categories: list[str], image_size: int = 64) -> ModelConfig:
    """A tiny cosine-classifier config over `categories` (wnids)."""
    return ModelConfig(
        backbone="vit_tiny_patch16_224",
        backbone_kwargs=dict(TINY_VIT),
        classifier="cosine",
        embed_dim=16,
        categories=categories,
        image_size=image_size,
    )


@pytest.fixture()
def cosine_model() -> LarvSegModel:
    """A tiny cosine LarvSegModel over 5 real wnids, random weights."""
    torch.manual_seed(0)
    wnids = ["n02084071", "n02121808", "n01503061", "n03791053", "n12102133"]
    return LarvSegModel(tiny_cosine_config(wnids)).eval()
