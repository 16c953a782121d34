"""Checkpoint loading: timm classifiers made dense (exact), larvseg folders, hub cache, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from timm.data import ImageNetInfo

from larvseg.errors import CheckpointError
from larvseg.modeling.model import LarvSegModel
from larvseg.segmenter import LarvSeg


def timm_head_per_patch(vit: torch.nn.Module, x: torch.Tensor, pool: str) -> torch.Tensor:
    """timm's own `forward_head` applied to each patch token -> (B, N, C)."""
    tokens = vit.forward_features(x)
    prefix = vit.num_prefix_tokens
    outputs = []
    for i in range(prefix, tokens.shape[1]):
        patch = tokens[:, i : i + 1]
        # 'token' pooling reads position 0; 'avg' pooling averages the non-prefix tokens
        seq = patch if pool == "token" else torch.cat([tokens[:, :prefix], patch], dim=1)
        outputs.append(vit.forward_head(seq))
    return torch.stack(outputs, dim=1)


@pytest.mark.parametrize("pool", ["token", "avg"])
def test_dense_head_equals_timm_head_on_every_patch(
    make_timm_classifier: Any, save_timm_checkpoint: Any, tmp_path: Path, pool: str
) -> None:
    vit = make_timm_classifier(num_classes=1000, global_pool=pool, seed=3)
    model = LarvSegModel.from_pretrained(str(save_timm_checkpoint(vit, tmp_path, global_pool=pool)))
    x = torch.randn(2, 3, 48, 64)
    with torch.no_grad():
        ours = model(x)  # (2, 1000, 3, 4)
        vit.set_input_size(img_size=(48, 64))
        ref = timm_head_per_patch(vit, x, pool)
    assert ours.shape == (2, 1000, 3, 4)
    diff = (ours.flatten(2).transpose(1, 2) - ref).abs().max().item()
    assert diff <= 1e-5


def test_timm_classes_are_named_by_imagenet_wnids(timm_checkpoint: Path) -> None:
    model = LarvSegModel.from_pretrained(str(timm_checkpoint))
    assert model.config.classifier == "linear"
    assert model.config.categories == list(ImageNetInfo("imagenet-1k").label_names())
    assert model.config.categories[0] == "n01440764"


def test_larvseg_checkpoint_round_trip(cosine_model, tmp_path: Path) -> None:
    cosine_model.save_pretrained(tmp_path)
    loaded = LarvSegModel.from_pretrained(str(tmp_path))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), cosine_model(x))


def test_missing_folder_and_files_are_named(tmp_path: Path, timm_checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        LarvSegModel.from_pretrained(str(tmp_path / "nowhere"))
    with pytest.raises(CheckpointError, match=r"has no config\.json"):
        LarvSegModel.from_pretrained(str(tmp_path))
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(timm_checkpoint / "config.json", partial)
    with pytest.raises(CheckpointError, match=r"has no model\.safetensors"):
        LarvSegModel.from_pretrained(str(partial))


def test_corrupt_files_are_reported(tmp_path: Path, timm_checkpoint: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(timm_checkpoint, broken)
    (broken / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        LarvSegModel.from_pretrained(str(broken))
    (broken / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        LarvSegModel.from_pretrained(str(broken))


def test_config_that_does_not_match_the_tensors(cosine_model, tmp_path: Path) -> None:
    cosine_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["categories"] = config["categories"][:3]  # 3 classes, tensors hold 5
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"do not match its config\.json"):
        LarvSegModel.from_pretrained(str(tmp_path))
    config["classifier"] = "mlp"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"config\.json of .* is invalid"):
        LarvSegModel.from_pretrained(str(tmp_path))


def fill_hub_cache(cache: Path, repo_id: str, files: Path) -> None:
    """Lay `files` out as huggingface_hub's cache holds a downloaded repo snapshot."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(files, repo / "snapshots" / commit)


def test_hub_id_loads_from_the_cache_offline(tmp_path: Path, timm_checkpoint: Path) -> None:
    cache = tmp_path / "hub"
    fill_hub_cache(cache, "timm/tiny_vit.test_in1k", timm_checkpoint)
    script = textwrap.dedent(
        """
        import torch
        from larvseg import LarvSeg
        from larvseg.errors import CheckpointError
        from larvseg.modeling.model import LarvSegModel
        model = LarvSeg.from_pretrained("timm/tiny_vit.test_in1k", device="cpu")
        print("loaded", len(model.model.config.categories))
        try:
            LarvSegModel.from_pretrained("someone/not-cached")
        except CheckpointError as err:
            print("error", err)
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "loaded 1000" in out
    assert "'someone/not-cached'" in out and "HF_HUB_OFFLINE=1" in out


@pytest.mark.parametrize("layout", ["timm", "larvseg"])
def test_every_from_pretrained_is_the_same_loader(
    layout: str,
    timm_checkpoint: Path,
    cosine_model: LarvSegModel,
    tmp_path: Path,
) -> None:
    """`LarvSeg.from_pretrained` and `LarvSegModel.from_pretrained` give the same model."""
    if layout == "timm":
        folder = timm_checkpoint
    else:
        folder = tmp_path / "larvseg"
        cosine_model.save_pretrained(folder)
    a = LarvSeg.from_pretrained(folder, device="cpu").model
    b = LarvSegModel.from_pretrained(folder)
    assert a.config == b.config
    assert a.config.classifier == ("linear" if layout == "timm" else "cosine")
    state_a, state_b = a.state_dict(), b.state_dict()
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


@pytest.mark.parametrize("pool", ["token", "avg"])
def test_image_logits_are_timms_logits(
    make_timm_classifier: Any, save_timm_checkpoint: Any, tmp_path: Path, pool: str
) -> None:
    vit = make_timm_classifier(num_classes=1000, global_pool=pool, seed=4)
    model = LarvSegModel.from_pretrained(str(save_timm_checkpoint(vit, tmp_path, global_pool=pool)))
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        ours = model.image_logits(model.features(x))
        ref = vit(x)
    assert ours.shape == (2, 1000)
    assert (ours - ref).abs().max().item() <= 1e-5
