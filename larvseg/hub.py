"""Loading checkpoints: larvseg folders/hub repos, and timm classifiers turned dense.

A larvseg checkpoint is `config.json` (a `ModelConfig`) + `model.safetensors`.
A timm checkpoint (as `timm.models.save_for_hf` writes it and the `timm/...` hub
repositories hold) is `config.json` with an `architecture` key + `model.safetensors`;
its classification head becomes a per-patch `LinearClassifier` with the same weights.
No pickle is ever loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import huggingface_hub
import safetensors.torch
import torch
from huggingface_hub import errors as hub_errors
from timm.data import ImageNetInfo, infer_imagenet_subset

from .config import DEFAULT_MODEL, ModelConfig
from .model import LarvSegModel

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be found, downloaded or loaded; the message says what to do."""


def _is_local(name_or_path: str) -> bool:
    path = Path(name_or_path).expanduser()
    looks_like_path = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    return path.exists() or looks_like_path


def fetch_file(name_or_path: str, filename: str) -> Path:
    """Path of `filename` in a local checkpoint folder or a hub repo (downloaded and cached)."""
    if _is_local(name_or_path):
        folder = Path(name_or_path).expanduser()
        if not folder.is_dir():
            raise CheckpointError(
                f"checkpoint folder {name_or_path!r} does not exist; pass a folder with "
                f"{CONFIG_NAME} and {WEIGHTS_NAME}, or a Hugging Face hub id such as "
                f"{DEFAULT_MODEL!r}"
            )
        path = folder / filename
        if not path.is_file():
            raise CheckpointError(f"checkpoint folder {name_or_path!r} has no {filename}")
        return path
    try:
        return Path(huggingface_hub.hf_hub_download(name_or_path, filename))
    except hub_errors.LocalEntryNotFoundError as err:
        raise CheckpointError(
            f"cannot get {filename} of {name_or_path!r}: it is not in the Hugging Face cache and "
            f"the hub cannot be reached (offline, or HF_HUB_OFFLINE=1). Connect once to download "
            f"it, or pass a local checkpoint folder."
        ) from err
    except hub_errors.RepositoryNotFoundError as err:
        raise CheckpointError(
            f"{name_or_path!r} is neither a local folder nor a Hugging Face hub repository "
            f"you can access (private repos need `huggingface-cli login`)"
        ) from err
    except hub_errors.EntryNotFoundError as err:
        raise CheckpointError(f"hub repository {name_or_path!r} has no {filename}") from err
    except (hub_errors.HfHubHTTPError, OSError) as err:
        raise CheckpointError(f"cannot download {filename} of {name_or_path!r}: {err}") from err


def read_config(name_or_path: str) -> dict[str, Any]:
    """The parsed `config.json` of a checkpoint."""
    path = fetch_file(name_or_path, CONFIG_NAME)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(
            f"{path} is not valid JSON ({err}); the checkpoint is corrupt"
        ) from err
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} must hold a JSON object, found {type(config).__name__}")
    return config


def read_weights(name_or_path: str) -> dict[str, torch.Tensor]:
    """The tensors of `model.safetensors`, on CPU."""
    path = fetch_file(name_or_path, WEIGHTS_NAME)
    try:
        return safetensors.torch.load_file(str(path))
    except Exception as err:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err


def timm_categories(config: dict[str, Any]) -> list[str]:
    """wnids of a timm classifier's classes: its `label_names`, or timm's ImageNet lists."""
    labels = config.get("label_names")
    if isinstance(labels, list) and all(isinstance(x, str) for x in labels):
        return list(labels)
    subset = infer_imagenet_subset(config)
    if subset is None:
        raise CheckpointError(
            f"cannot name the {config.get('num_classes')} classes of timm model "
            f"{config.get('architecture')!r}: it has no label_names and its class count matches "
            f"no ImageNet list (21843, 21841, 11821, 1000, ...)"
        )
    return list(ImageNetInfo(subset).label_names())


def config_from_timm(config: dict[str, Any]) -> ModelConfig:
    """A linear-classifier `ModelConfig` for a timm `config.json`."""
    pretrained = config.get("pretrained_cfg", {})
    input_size = pretrained.get("input_size", [3, 224, 224])
    return ModelConfig(
        backbone=config["architecture"],
        backbone_kwargs={
            key: value
            for key, value in config.get("model_args", {}).items()
            if key not in ("num_classes", "dynamic_img_size")  # set by larvseg
        },
        classifier="linear",
        categories=timm_categories(config),
        image_size=int(input_size[-1]),
        mean=tuple(pretrained.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(pretrained.get("std", (0.229, 0.224, 0.225))),
    )


def timm_to_larvseg_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a timm classifier's tensors: head and `fc_norm` go to the dense classifier."""
    renamed = {}
    for key, value in state.items():
        if key.startswith("head."):
            renamed["classifier." + key] = value
        elif key.startswith("fc_norm."):
            renamed["classifier.norm." + key.removeprefix("fc_norm.")] = value
        else:
            renamed["backbone.vit." + key] = value
    return renamed


def _load_state(model: LarvSegModel, state: dict[str, torch.Tensor], source: str) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(
            f"the weights of {source!r} do not match its config.json: {err}"
        ) from err


def load_model(name_or_path: str = DEFAULT_MODEL) -> LarvSegModel:
    """Load a larvseg checkpoint or a timm classifier (made dense) from a folder or the hub.

    Returns the model in eval mode on CPU, float32.
    """
    raw = read_config(name_or_path)
    try:
        config = config_from_timm(raw) if "architecture" in raw else ModelConfig.from_dict(raw)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"config.json of {name_or_path!r} is invalid: {err}") from err
    model = LarvSegModel(config)
    state = read_weights(name_or_path)
    if "architecture" in raw:
        state = timm_to_larvseg_state_dict(state)
    _load_state(model, state, name_or_path)
    return model.eval()
