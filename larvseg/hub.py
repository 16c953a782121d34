"""Checkpoint files on disk and on the Hugging Face hub: find, read, write, upload.

A checkpoint is a folder (or a hub repository) with `config.json` and
`model.safetensors`. This module only moves files and tensors; turning them into a
model is `LarvSegModel.from_pretrained` (`larvseg.modeling.model`). No pickle is ever
loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import huggingface_hub
import safetensors.torch
import torch
from huggingface_hub import errors as hub_errors

from .atomic import atomic_path, write_text
from .config import DEFAULT_MODEL
from .errors import CheckpointError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


MODEL_CARD = """---
library_name: larvseg
tags:
- image-segmentation
- larvseg
---

A [larvseg](https://github.com/larvseg/larvseg) checkpoint: load it with
`larvseg.LarvSeg.from_pretrained("{repo_id}")`.
"""


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
    """The tensors of `model.safetensors`, on CPU, each read once into its own memory
    (`pread`, not memory-mapped: the tensors never depend on the file afterwards)."""
    path = fetch_file(name_or_path, WEIGHTS_NAME)
    try:
        return safetensors.torch.load_file(str(path), backend="pread")
    except Exception as err:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err


def write_checkpoint(
    folder: str | Path, config: dict[str, Any], state: dict[str, torch.Tensor]
) -> Path:
    """Write `config.json` (sorted keys) and `model.safetensors` into `folder` (created).

    Each file is written to a temporary name, flushed to disk and renamed into place
    (`larvseg.atomic`), the weights first: an interrupted write never leaves a truncated
    file under either name.
    """
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {key: value.detach().contiguous() for key, value in state.items()}
    with atomic_path(path / WEIGHTS_NAME, durable=True) as temporary:
        safetensors.torch.save_file(tensors, str(temporary), metadata={"format": "pt"})
    write_text(path / CONFIG_NAME, json.dumps(config, indent=2, sort_keys=True) + "\n", True)
    return path


def upload_checkpoint(folder: str | Path, repo_id: str, **kwargs: Any) -> str:
    """Create `repo_id` on the hub if needed and upload `folder` (plus a model card).

    `kwargs` go to `HfApi.upload_folder` (e.g. `commit_message`, `revision`); `token`
    and `private` are used for the repository too. Returns the commit URL.
    """
    folder = Path(folder)
    card = folder / "README.md"
    if not card.exists():
        write_text(card, MODEL_CARD.format(repo_id=repo_id))
    api = huggingface_hub.HfApi(token=kwargs.pop("token", None))
    try:
        api.create_repo(repo_id, private=kwargs.pop("private", None), exist_ok=True)
        return str(api.upload_folder(repo_id=repo_id, folder_path=str(folder), **kwargs))
    except (hub_errors.HfHubHTTPError, OSError) as err:
        raise CheckpointError(f"cannot upload to hub repository {repo_id!r}: {err}") from err
