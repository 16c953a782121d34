"""Checkpoint files on disk and on the Hugging Face hub: find, read, write, upload.

A checkpoint is a folder (or a hub repository) with `config.json` and
`model.safetensors`. This module only moves files and tensors; turning them into a
model is `LarvSegModel.from_pretrained` (`larvseg.modeling.model`). No pickle is ever
loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import huggingface_hub
import safetensors.torch
import torch
from huggingface_hub import constants
from huggingface_hub import errors as hub_errors
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

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


LOCAL_PREFIX = "local-dir:"
HUB_PREFIX = "hf-hub:"
PICKLED_WEIGHTS = "pytorch_model.bin"
WRITE_A_FOLDER = (
    "pass a checkpoint folder (--model FOLDER on the command line): write one with "
    "`LarvSeg.from_pretrained(...).save_pretrained(FOLDER)`, or for a timm model with "
    "`timm.models.save_for_hf(timm.create_model(NAME, pretrained=True), FOLDER, "
    "safe_serialization=True)`; see docs/weights.md"
)
CONVERT_PICKLE = (
    "larvseg never unpickles weights: re-save it with `timm.models.save_for_hf(model, FOLDER, "
    'safe_serialization=True)`, or convert the file once with `python -c "import torch, '
    "safetensors.torch as st; st.save_file(torch.load('{bin}', weights_only=True), "
    "'{safetensors}')\"` (docs/weights.md)"
)


@dataclass(frozen=True)
class Source:
    """Where a checkpoint lives: a local `folder`, or a hub `repo_id` (exactly one is set)."""

    folder: Path | None = None
    repo_id: str | None = None


def checkpoint_source(name_or_path: str | Path) -> Source:
    """Read a checkpoint name as a local folder or a hub id, without touching the network.

    A `pathlib.Path`, a name with the `local-dir:` prefix, an existing path, and a name
    that looks like a path (starts with `.`, `/` or `~`, has no `/`, more than one, or a
    backslash, or its first part exists here) are local folders; `hf-hub:NAME` and any
    other `owner/name` are hub ids (timm's prefixes).

    Raises:
        CheckpointError: a local folder that does not exist, or a name that cannot be a
            hub id (`huggingface_hub.utils.validate_repo_id`).
    """
    if isinstance(name_or_path, Path):
        return _local(name_or_path, str(name_or_path))
    name = str(name_or_path)
    if name.startswith(LOCAL_PREFIX):
        return _local(Path(name[len(LOCAL_PREFIX) :]).expanduser(), name)
    if name.startswith(HUB_PREFIX):
        return Source(repo_id=_valid_repo_id(name[len(HUB_PREFIX) :], name))
    path = Path(name).expanduser()
    parts = name.replace("\\", "/").split("/")
    looks_like_path = (
        name.startswith((".", "/", "~"))
        or len(parts) != 2
        or "\\" in name
        or Path(parts[0]).expanduser().exists()
    )
    if path.exists() or looks_like_path:
        return _local(path, name)
    return Source(repo_id=_valid_repo_id(name, name))


def _local(folder: Path, name: str) -> Source:
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise CheckpointError(
            f"checkpoint folder {name!r} {what}; {WRITE_A_FOLDER}. A hub id has the form "
            f"owner/name, e.g. {DEFAULT_MODEL!r} (or {HUB_PREFIX}NAME)"
        )
    return Source(folder=folder)


def _valid_repo_id(repo_id: str, name: str) -> str:
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise CheckpointError(
            f"{name!r} is neither a local folder nor a valid Hugging Face hub id ({err}); "
            f"{WRITE_A_FOLDER}"
        ) from None
    return repo_id


def fetch_file(name_or_path: str | Path, filename: str) -> Path:
    """Path of `filename` in a local checkpoint folder or a hub repo (downloaded and cached).

    An uncached hub file is first looked up once, without retries, so that an
    unreachable hub, an unknown repository or a missing file is reported at once.
    """
    source = checkpoint_source(name_or_path)
    if source.folder is not None:
        path = source.folder / filename
        if not path.is_file():
            raise CheckpointError(_missing_file(str(name_or_path), source.folder, filename))
        return path
    assert source.repo_id is not None
    return _download(source.repo_id, filename)


def _missing_file(name: str, folder: Path, filename: str) -> str:
    message = f"checkpoint folder {name!r} has no {filename}"
    pickled = folder / PICKLED_WEIGHTS
    if filename == WEIGHTS_NAME and pickled.is_file():
        convert = CONVERT_PICKLE.format(bin=pickled, safetensors=folder / WEIGHTS_NAME)
        return f"{message}, only {PICKLED_WEIGHTS} (a pickle); {convert}"
    return f"{message}; {WRITE_A_FOLDER}"


def _download(repo_id: str, filename: str) -> Path:
    try:
        cached = huggingface_hub.try_to_load_from_cache(repo_id, filename)
        if not isinstance(cached, str) and not constants.is_offline_mode():
            # one metadata request without retries: huggingface_hub retries an uncached
            # file for half a minute when the hub cannot be reached
            huggingface_hub.get_hf_file_metadata(huggingface_hub.hf_hub_url(repo_id, filename))
        return Path(huggingface_hub.hf_hub_download(repo_id, filename))
    except hub_errors.RepositoryNotFoundError as err:
        raise CheckpointError(
            f"Hugging Face hub repository {repo_id!r} does not exist or is private "
            f"(private ones need `hf auth login`); check the name, or {WRITE_A_FOLDER}"
        ) from err
    except (hub_errors.LocalEntryNotFoundError, hub_errors.OfflineModeIsEnabled) as err:
        why = "HF_HUB_OFFLINE=1" if constants.is_offline_mode() else str(err)
        raise CheckpointError(_unreachable(repo_id, filename, why)) from err
    except hub_errors.EntryNotFoundError as err:
        hint = (
            f" (a timm repository with only {PICKLED_WEIGHTS}: larvseg never unpickles weights)"
            if filename == WEIGHTS_NAME
            else ""
        )
        raise CheckpointError(f"hub repository {repo_id!r} has no {filename}{hint}") from err
    except hub_errors.HfHubHTTPError as err:
        raise CheckpointError(f"cannot download {filename} of {repo_id!r}: {err}") from err
    except Exception as err:  # the HTTP client's own connection and timeout errors
        raise CheckpointError(_unreachable(repo_id, filename, str(err))) from err


def _unreachable(repo_id: str, filename: str, why: str) -> str:
    return (
        f"cannot get {filename} of hub repository {repo_id!r}: it is not in the Hugging Face "
        f"cache and the hub cannot be reached ({why}). Connect once to download it, or "
        f"{WRITE_A_FOLDER}"
    )


def read_config(name_or_path: str | Path) -> dict[str, Any]:
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


def read_weights(name_or_path: str | Path) -> dict[str, torch.Tensor]:
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
