"""Checkpoint loading: timm classifiers made dense (exact), larvseg folders, hub cache, errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from huggingface_hub import errors as hub_errors
from timm.data import ImageNetInfo
from timm.models import save_for_hf

from larvseg import hub
from larvseg.errors import CheckpointError
from larvseg.modeling.model import LarvSegModel
from larvseg.segmenter import LarvSeg
from tests.conftest import TINY_VIT


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
    # the fix is named: a local folder, how to write one, the docs page
    assert "--model FOLDER" in out and "save_for_hf" in out and "docs/weights.md" in out


@pytest.fixture()
def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any request to the hub fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"the hub was asked: {args}")

    for name in ("hf_hub_download", "get_hf_file_metadata", "try_to_load_from_cache"):
        monkeypatch.setattr(hub.huggingface_hub, name, refuse)


@pytest.mark.parametrize(
    "name", ["tiny21k", "./tiny21k", "../x/y", "/no/such/folder", "~/no-such-larvseg", "a/b/c"]
)
def test_a_name_that_looks_like_a_path_is_a_missing_folder(no_hub: None, name: str) -> None:
    with pytest.raises(CheckpointError, match=f"checkpoint folder '{re.escape(name)}' does not"):
        LarvSegModel.from_pretrained(name)


def test_path_objects_and_local_dir_are_always_local(
    no_hub: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # "owner/name" does not exist here
    with pytest.raises(CheckpointError, match="checkpoint folder 'owner/name' does not exist"):
        LarvSegModel.from_pretrained(Path("owner/name"))
    with pytest.raises(CheckpointError, match="'local-dir:owner/name' does not exist"):
        LarvSegModel.from_pretrained("local-dir:owner/name")
    (tmp_path / "owner").mkdir()  # its first part exists: read as a path
    with pytest.raises(CheckpointError, match="checkpoint folder 'owner/name' does not exist"):
        LarvSegModel.from_pretrained("owner/name")
    (tmp_path / "owner" / "other").mkdir()
    assert hub.checkpoint_source("owner/other") == hub.Source(folder=Path("owner/other"))


@pytest.mark.parametrize("name", ["a b/c", "owner/-name", "hf-hub:../x"])
def test_a_name_that_cannot_be_a_hub_id_is_never_sent(no_hub: None, name: str) -> None:
    with pytest.raises(CheckpointError, match="neither a local folder nor a valid Hugging Face"):
        LarvSegModel.from_pretrained(name)


def test_hub_prefix_and_owner_name_are_hub_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny21k").mkdir()
    assert hub.checkpoint_source("hf-hub:tiny21k") == hub.Source(repo_id="tiny21k")
    assert hub.checkpoint_source("tiny21k") == hub.Source(folder=Path("tiny21k"))
    assert hub.checkpoint_source("timm/vit").repo_id == "timm/vit"


def test_unreachable_hub_is_reported_after_one_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """An uncached file is asked for once; huggingface_hub's own download (which retries
    for half a minute on a connection error) is never started."""
    asked: list[str] = []

    def unreachable(url: str, **kwargs: Any) -> None:
        asked.append(url)
        raise ConnectionError("[Errno -2] Name or service not known")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("hf_hub_download retries: it must not run")

    monkeypatch.setattr(hub.constants, "is_offline_mode", lambda: False)
    monkeypatch.setattr(hub.huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setattr(hub.huggingface_hub, "get_hf_file_metadata", unreachable)
    monkeypatch.setattr(hub.huggingface_hub, "hf_hub_download", refuse)
    with pytest.raises(CheckpointError) as err:
        LarvSegModel.from_pretrained("someone/model")
    message = str(err.value)
    assert "hub cannot be reached (" in message and "Name or service not known" in message
    assert "--model FOLDER" in message and "docs/weights.md" in message
    assert asked == ["https://huggingface.co/someone/model/resolve/main/config.json"]


def test_unknown_hub_repository_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_found(url: str, **kwargs: Any) -> None:
        response = SimpleNamespace(headers={}, request=None, status_code=404)
        raise hub_errors.RepositoryNotFoundError("404 Client Error", response=response)

    monkeypatch.setattr(hub.constants, "is_offline_mode", lambda: False)
    monkeypatch.setattr(hub.huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setattr(hub.huggingface_hub, "get_hf_file_metadata", not_found)
    with pytest.raises(CheckpointError, match="'someone/typo' does not exist or is private"):
        LarvSegModel.from_pretrained("someone/typo")


def test_pickled_timm_folder_says_how_to_convert_and_is_never_unpickled(
    make_timm_classifier: Any,
    timm_checkpoint: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "pickled"
    save_for_hf(make_timm_classifier(), str(folder), model_args=TINY_VIT)  # the default: a pickle
    assert (folder / "pytorch_model.bin").is_file()
    assert not (folder / "model.safetensors").exists()
    with monkeypatch.context() as patch:
        patch.setattr(torch, "load", lambda *a, **k: pytest.fail("larvseg unpickled weights"))
        with pytest.raises(CheckpointError) as err:
            LarvSegModel.from_pretrained(folder)
    message = str(err.value)
    assert "only pytorch_model.bin" in message and "safe_serialization=True" in message
    # the one-line conversion of the message works, and gives the saved weights
    command = re.search(r'`python -c "(.*)"`', message)
    assert command is not None
    subprocess.run([sys.executable, "-c", command.group(1)], check=True)
    converted = LarvSegModel.from_pretrained(folder)
    reference = LarvSegModel.from_pretrained(timm_checkpoint)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(converted(x), reference(x))


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
