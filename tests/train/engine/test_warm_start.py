"""Training init: timm head rows become class embeddings (exact cosine), larvseg rows by wnid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import timm
import torch
import torch.nn.functional as F
from timm.data import ImageNetInfo
from timm.models import save_for_hf

from larvseg.config import IMAGENET_MEAN, IMAGENET_STD
from larvseg.modeling.classifier import CosineClassifier
from larvseg.modeling.model import LarvSegModel
from larvseg.train.config import TrainConfig
from larvseg.train.engine.trainer import build_optimizer
from larvseg.train.engine.warm_start import build_training_model, input_normalisation, scratch_model
from larvseg.train.errors import WarmStartError

IN_1K = ["n01440764", "n02123045"]  # tench, tabby: rows of the ImageNet-1k head
NOT_IN_1K = "n00007846"  # person: an ImageNet-21K class only


@pytest.mark.parametrize("pool", ["token", "avg"])
def test_cosine_scores_equal_cosine_of_tokens_and_head_rows(
    make_timm_classifier: Any, save_timm_checkpoint: Any, tmp_path: Path, pool: str
) -> None:
    vit = make_timm_classifier(num_classes=1000, global_pool=pool, seed=1)
    folder = save_timm_checkpoint(vit, tmp_path, global_pool=pool)
    classes = [IN_1K[0], NOT_IN_1K, IN_1K[1]]
    model, report = build_training_model(str(folder), classes)
    assert (report.matched, report.total) == (2, 3)
    assert model.config.classifier == "cosine" and model.config.categories == classes
    x = torch.randn(2, 3, 32, 48)
    with torch.no_grad():
        classifier = model.classifier
        assert isinstance(classifier, CosineClassifier)
        _, scores = classifier.cosine(model.forward_features(x))  # (2, 3, 2, 3)
        vit.set_input_size(img_size=(32, 48))
        tokens = vit.fc_norm(vit.forward_features(x)[:, vit.num_prefix_tokens :])
        names = ImageNetInfo("imagenet-1k").label_names()
        rows = vit.head.weight[[names.index(w) for w in IN_1K]]
        expected = F.normalize(tokens, dim=-1) @ F.normalize(rows, dim=-1).T  # (2, 6, 2)
    ours = scores[:, [0, 2]].flatten(2).transpose(1, 2)
    assert (ours - expected).abs().max().item() <= 1e-5


def test_embed_dim_other_than_width_is_refused_for_timm(
    make_timm_classifier: Any, save_timm_checkpoint: Any, tmp_path: Path
) -> None:
    folder = save_timm_checkpoint(make_timm_classifier(num_classes=1000), tmp_path)
    with pytest.raises(WarmStartError, match="embed_dim=16"):
        build_training_model(str(folder), IN_1K, embed_dim=16)


def test_larvseg_checkpoint_rows_are_matched_by_wnid(
    tiny_cosine_config: Any, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    source = LarvSegModel(tiny_cosine_config([IN_1K[0], NOT_IN_1K, IN_1K[1]]))
    source.save_pretrained(tmp_path)
    model, report = build_training_model(str(tmp_path), [IN_1K[1], "n02084071", NOT_IN_1K])
    assert report.matched == 2
    src, dst = source.classifier, model.classifier
    assert isinstance(src, CosineClassifier) and isinstance(dst, CosineClassifier)
    assert torch.equal(dst.class_embed[0], src.class_embed[2])
    assert torch.equal(dst.class_embed[2], src.class_embed[1])
    assert torch.equal(dst.patch_proj, src.patch_proj)
    assert torch.equal(
        model.backbone.state_dict()["vit.patch_embed.proj.weight"],
        source.backbone.state_dict()["vit.patch_embed.proj.weight"],
    )
    assert input_normalisation(str(tmp_path)) == (source.config.mean, source.config.std)


def test_from_scratch_builds_the_requested_architecture() -> None:
    classes = [IN_1K[0], NOT_IN_1K]
    kwargs = {"patch_size": 8, "embed_dim": 48, "depth": 2, "num_heads": 2, "img_size": 32}
    model, report = scratch_model("vit_tiny_patch16_224", kwargs, classes, image_size=32)
    assert (report.matched, report.total, report.scratch) == (0, 2, True)
    assert str(report) == (
        "training from scratch: vit_tiny_patch16_224 with random weights, "
        "2 class embeddings initialised at random"
    )
    assert model.config.categories == classes and model.config.backbone_kwargs == kwargs
    assert model.patch_size == 8 and model.training
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 40)).shape == (1, 2, 4, 5)
    assert input_normalisation(None) == (IMAGENET_MEAN, IMAGENET_STD)


@pytest.mark.parametrize(("name", "kind"), [("sgd", torch.optim.SGD), ("adamw", torch.optim.AdamW)])
def test_optimizer_choice(name: str, kind: type) -> None:
    config = TrainConfig.from_dict({"optim": {"name": name, "lr": 0.5, "weight_decay": 0.1}})
    optimizer = build_optimizer(torch.nn.Linear(2, 2), config)
    assert type(optimizer) is kind
    assert optimizer.param_groups[0]["lr"] == 0.5
    assert optimizer.param_groups[0]["weight_decay"] == 0.1


def test_a_non_vit_family_is_refused_for_training(tmp_path: Path) -> None:
    tiny = {"depths": (1, 1, 1, 1), "dims": (8, 16, 24, 32)}
    convnext = timm.create_model("convnext_atto", pretrained=False, num_classes=1000, **tiny)
    save_for_hf(convnext, str(tmp_path), model_args=tiny, safe_serialization=True)
    with pytest.raises(WarmStartError, match="is a ConvNeXt classifier: larvseg-train fine-tunes"):
        build_training_model(str(tmp_path), IN_1K)
