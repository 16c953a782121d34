"""The CA attention diagnostic: region fractions and attention shares with known answers."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from larvseg.modeling.classifier import CosineClassifier
from larvseg.modeling.model import LarvSegModel
from larvseg.train.ca.attention import CAClassifierLoss
from larvseg.train.ca.diagnostics import (
    AttentionShare,
    attention_items,
    attention_share,
    region_fractions,
)
from larvseg.train.ca.memory_bank import MemoryBank
from larvseg.train.config import DataSourceConfig
from larvseg.train.data.dataset import build_dataset

CLASSES = ["n01440764", "n02123045"]  # tench, tabby
SIGMOID_1 = 1 / (1 + math.exp(-1))


def test_region_fractions_known_answer() -> None:
    target = torch.zeros(4, 4, dtype=torch.long)
    target[:2, :3] = 1
    fractions = region_fractions(target, torch.tensor([1, 0]), (2, 2))
    assert torch.equal(fractions[0], torch.tensor([[1.0, 0.5], [0.0, 0.0]]))
    assert torch.equal(fractions[0] + fractions[1], torch.ones(2, 2))


def _halves_model(tiny_cosine_config: Any) -> tuple[LarvSegModel, MemoryBank]:
    """A model whose patch embedding is e0 on the left half of the patch grid and e1 on
    the right half, and a bank holding e0 for class 0 and e1 for class 1. Then
    s_fg - s_bg = +-1 on the two halves: label 0's attention is sigmoid(+1) on the left
    half and sigmoid(-1) on the right, label 1's the reverse."""
    model = LarvSegModel(tiny_cosine_config(CLASSES, image_size=32))
    classifier = model.classifier
    assert isinstance(classifier, CosineClassifier)
    e0, e1 = torch.eye(16)[0], torch.eye(16)[1]
    with torch.no_grad():
        classifier.patch_proj.copy_(torch.eye(32)[:, :16])

    def halves(images: torch.Tensor) -> torch.Tensor:
        h, w = images.shape[2] // 16, images.shape[3] // 16
        features = torch.zeros(1, 32, h, w)
        features[0, :16, :, : w // 2] = e0[:, None, None]
        features[0, :16, :, w // 2 :] = e1[:, None, None]
        return features

    model.forward_features = halves  # type: ignore[method-assign]
    bank = MemoryBank(2, 16, size=1, topk=1)
    bank.update(torch.tensor([0, 1]), torch.stack([e0, e1]))
    return model, bank


def test_attention_share_on_constructed_embeddings(tiny_cosine_config: Any) -> None:
    model, bank = _halves_model(tiny_cosine_config)
    target = torch.zeros(32, 32, dtype=torch.long)
    target[:, 16:] = 1
    item = {"image": torch.zeros(3, 32, 32), "target": target}
    share = attention_share(
        model, bank, CAClassifierLoss(), [item], torch.tensor([0, 1]), torch.tensor([False, True])
    )
    assert share.pairs == 2 and share.novel_pairs == 1
    assert share.attention == pytest.approx(SIGMOID_1, abs=1e-4)
    assert share.novel_attention == pytest.approx(SIGMOID_1, abs=1e-4)
    assert share.area == pytest.approx(0.5) and share.novel_area == pytest.approx(0.5)


def test_odd_image_sides_are_resized_and_regions_pooled(
    tiny_cosine_config: Any, tmp_path: Path
) -> None:
    """A 37x67 image (no side a multiple of the 16-pixel patch) is resized to 32x64 (short
    side image_size 32): a 2x4 grid. Its label map (tench left of column 34, tabby from
    it) is area-pooled into the grid's columns [0, 17), [16, 34), [33, 51), [50, 67):
    tench fractions 1, 1, 1/18, 0 and tabby 0, 0, 17/18, 1."""
    for folder in ("images", "labels"):
        (tmp_path / folder).mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (37, 67, 3), dtype=np.uint8)).save(
        tmp_path / "images" / "a.png"
    )
    label = np.zeros((37, 67), dtype=np.uint8)
    label[:, 34:] = 1
    Image.fromarray(label, mode="L").save(tmp_path / "labels" / "a.png")
    source = DataSourceConfig(
        name="odd",
        kind="segmentation",
        images=str(tmp_path / "images"),
        annotations=str(tmp_path / "labels"),
        classes=CLASSES,
        image_suffix=".png",
    )
    model, bank = _halves_model(tiny_cosine_config)
    dataset = build_dataset(source, model.config.mean, model.config.std, train=False)
    [item] = attention_items(dataset, model)
    assert item["image"].shape == (3, 32, 64) and item["target"].shape == (37, 67)
    share = attention_share(
        model, bank, CAClassifierLoss(), [item], torch.tensor([0, 1]), torch.tensor([False, True])
    )
    a = SIGMOID_1
    tench = (2 * a + (1 - a) / 18) / 2  # sum of A * r over the sum of A (2 per row)
    tabby = a * (17 / 18 + 1) / 2
    expected = AttentionShare(
        pairs=2,
        attention=(tench + tabby) / 2,
        area=(37 / 72 + 35 / 72) / 2,
        novel_pairs=1,
        novel_attention=tabby,
        novel_area=35 / 72,
    )
    for name, value in vars(expected).items():
        assert getattr(share, name) == pytest.approx(value, abs=1e-5), name
    lines = share.format_table().splitlines()
    assert lines[1].split() == ["all", "2", f"{100 * expected.attention:.2f}%", "50.00%"]
