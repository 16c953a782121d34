"""Shared fixtures: tiny timm/larvseg checkpoints with random weights, real data paths.

Factories are fixtures too (`make_timm_classifier`, `save_timm_checkpoint`,
`tiny_cosine_config`): a test asks for the factory and calls it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import timm
import torch
import torch.multiprocessing as mp
from PIL import Image
from timm.models import save_for_hf

from larvseg.config import ModelConfig
from larvseg.modeling.classifier import CosineClassifier
from larvseg.modeling.model import LarvSegModel
from larvseg.vocab.table import nltk_wordnet

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SAMPLE_PHOTO = REPO / "examples" / "data" / "chelsea.jpg"
"""The one photo shipped in the repository (CC0, examples/data/README.md)."""
TINY_VIT = {"depth": 1, "embed_dim": 32, "num_heads": 2}
BENCHMARK_TREES = {
    "ade-150": (
        "ADEChallengeData2016/images/validation",
        "ADEChallengeData2016/annotations/validation",
        ".png",
    ),
    "coco-stuff-171": (
        "coco_stuff164k/images/val2017",
        "coco_stuff164k/stuffthingmaps_trainval2017/val2017",
        ".png",
    ),
}
"""Where the downloads keep validation images and label maps (written out, not imported)."""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` (real photos and ADE20K scenes); skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def wordnet() -> Any:
    """nltk's WordNet 3.0 corpus reader; skip where it is missing, fail where env var CI is
    set (install it with `scripts/install_wordnet.sh DIR`, then `NLTK_DATA=DIR`)."""
    found = nltk_wordnet()
    if found is None:
        message = (
            "nltk's WordNet 3.0 is not installed: run `scripts/install_wordnet.sh DIR` and set"
            " NLTK_DATA=DIR"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def sample_photo() -> Path:
    """The photo shipped in the repository, for tests that need one real photo."""
    return SAMPLE_PHOTO


@pytest.fixture(scope="session")
def real_images(shared_data: Path) -> list[Path]:
    """The 20 real ImageNet photos."""
    return sorted((shared_data / "real-images").glob("*.JPEG"))


def _timm_classifier(
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


def _save_timm(model: torch.nn.Module, folder: Path, global_pool: str = "token") -> Path:
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
    return _save_timm(_timm_classifier(), folder)


def _tiny_cosine_config(categories: list[str], image_size: int = 64) -> ModelConfig:
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
    return LarvSegModel(_tiny_cosine_config(wnids)).eval()


@pytest.fixture(scope="session")
def make_timm_classifier() -> Callable[..., torch.nn.Module]:
    """Factory: `make_timm_classifier(num_classes=1000, global_pool="token", seed=0)`, a tiny
    timm ViT classifier with random weights (eval mode)."""
    return _timm_classifier


@pytest.fixture(scope="session")
def save_timm_checkpoint() -> Callable[..., Path]:
    """Factory: `save_timm_checkpoint(model, folder, global_pool="token")` in the hub's layout."""
    return _save_timm


@pytest.fixture(scope="session")
def tiny_cosine_config() -> Callable[..., ModelConfig]:
    """Factory: `tiny_cosine_config(categories, image_size=64)`, a tiny cosine config."""
    return _tiny_cosine_config


@pytest.fixture()
def dog_everywhere(cosine_model: LarvSegModel) -> LarvSegModel:
    """`cosine_model` predicting dog (class 0) at every pixel: every backbone feature is
    one vector `b` and dog is embedded as `b Pp` (cosine 1)."""
    norm, classifier = cosine_model.backbone.vit.norm, cosine_model.classifier
    assert isinstance(norm, torch.nn.LayerNorm) and isinstance(classifier, CosineClassifier)
    torch.manual_seed(1)
    with torch.no_grad():
        norm.weight.zero_()
        norm.bias.copy_(torch.randn(32))
        classifier.class_proj.copy_(torch.eye(16))
        classifier.class_embed[0] = norm.bias @ classifier.patch_proj
    return cosine_model


def _benchmark_tree(root: Path, name: str, maps: list[np.ndarray]) -> Path:
    """`root` holding benchmark `name`'s validation data as downloaded: a random JPEG
    and an 8-bit PNG label map (`maps[i]`, stored values) per image; returns `root`."""
    images, annotations, suffix = BENCHMARK_TREES[name]
    rng = np.random.default_rng(0)
    for i, values in enumerate(maps):
        image = root / images / f"{i:012d}.jpg"
        label = root / annotations / f"{i:012d}{suffix}"
        image.parent.mkdir(parents=True, exist_ok=True)
        label.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (*values.shape, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(image)
        Image.fromarray(values.astype(np.uint8), mode="L").save(label)
    return root


def _ade847_tree(root: Path, scenes: Path) -> Path:
    """`root/ADE20K_2021_17_01/images/ADE/validation/urban/street/` holding copies of the
    real full-ADE20K scenes (`.jpg`, `_seg.png`, `.json`) of folder `scenes`; returns root."""
    folder = root / "ADE20K_2021_17_01/images/ADE/validation/urban/street"
    folder.mkdir(parents=True)
    for path in sorted(scenes.iterdir()):
        (folder / path.name).write_bytes(path.read_bytes())
    return root


@pytest.fixture()
def benchmark_tree() -> Callable[..., Path]:
    """Factory: `benchmark_tree(root, name, maps)` writes ade-150 or coco-stuff-171
    validation data in the downloaded layout (random JPEGs, `maps` as 8-bit PNGs)."""
    return _benchmark_tree


@pytest.fixture()
def ade847_tree(shared_data: Path, tmp_path: Path) -> Path:
    """A folder holding `ADE20K_2021_17_01` with the three real full-ADE20K scenes as its
    validation split (the downloaded layout)."""
    return _ade847_tree(tmp_path / "ade847", shared_data / "ade20k-full")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_rank(rank: int, port: int, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
    """One of two processes: the environment torchrun would set, then `fn(rank, *args)`."""
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    fn(rank, *args)


def _spawn_two_ranks(fn: Callable[..., None], *args: Any, attempts: int = 3) -> None:
    """Run `fn(rank, *args)` on 2 ranks; retry (new port) when gloo's TCP transport drops a
    connection between the local processes, a known gloo flake (pytorch/pytorch#53270)
    seen here about once in 30 runs. Any other failure is raised at once."""
    for attempt in range(attempts):
        try:
            mp.spawn(_as_rank, args=(_free_port(), fn, args), nprocs=2, join=True)
            return
        except mp.ProcessRaisedException as err:
            if "gloo/transport/tcp" not in str(err) or attempt == attempts - 1:
                raise


@pytest.fixture(scope="session")
def spawn_two_ranks() -> Callable[..., None]:
    """Factory: `spawn_two_ranks(fn, *args)` runs `fn(rank, *args)` (a module-level
    function) in two processes with torchrun's environment, as gloo ranks on CPU."""
    return _spawn_two_ranks
