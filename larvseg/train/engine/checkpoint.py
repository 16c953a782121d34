"""Training checkpoints (everything resume needs) and the exported model folder.

Layout of the output directory:

- `checkpoints/iter_XXXXXXXX.pt`: training state (torch.save of tensors and plain data
  only, read back with `weights_only=True`, so a checkpoint cannot run code),
- `checkpoints/latest`: name of the newest complete training state,
- `model/`: `config.json` + `model.safetensors` of the latest weights, loadable with
  `LarvSeg.from_pretrained(output_dir / "model")` (no pickle),
- `best/`: the same for the best evaluation during training, plus `best.json`
  (`engine/periodic_eval.py`).

Every file is written to a temporary name in the same folder, flushed to disk and
renamed into place, so an interrupted write never replaces a good checkpoint.
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...atomic import atomic_path, fsync_folder, write_text
from ...config import ModelConfig
from ...modeling.model import LarvSegModel
from ..errors import ResumeError

CHECKPOINT_DIR = "checkpoints"
MODEL_DIR = "model"
LATEST = "latest"


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch (and CUDA) random states as tensors, lists and numbers."""
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, np.int64)), position, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    output_dir: Path, iteration: int, state: dict[str, Any], model: LarvSegModel, keep: int
) -> Path:
    """Write the training `state` and the `model/` export; keep the newest `keep` states."""
    folder = output_dir / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"iter_{iteration:08d}.pt"
    with atomic_path(path, durable=True) as temporary:
        torch.save(state, temporary)
    write_text(folder / LATEST, path.name, durable=True)
    export_model(model, output_dir / MODEL_DIR)
    for old in sorted(folder.glob("iter_*.pt"))[:-keep]:
        old.unlink()
    return path


def export_model(model: LarvSegModel, target: Path, extra: dict[str, str] | None = None) -> None:
    """`save_pretrained` into a fresh folder, with the `extra` text files (name ->
    content), then swap it in place of `target`."""
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    for name, text in (extra or {}).items():
        write_text(staging / name, text, durable=True)
    previous = target.with_name(f".{target.name}.old")
    if target.exists():
        shutil.rmtree(previous, ignore_errors=True)
        os.replace(target, previous)
    os.replace(staging, target)
    fsync_folder(target.parent)
    shutil.rmtree(previous, ignore_errors=True)


def find_checkpoint(path: str | Path) -> Path:
    """The training state file for `--resume PATH`: a `.pt` file, or an output/checkpoints
    folder whose `latest` pointer names one."""
    path = Path(path)
    if path.is_file():
        return path
    for folder in (path / CHECKPOINT_DIR, path):
        pointer = folder / LATEST
        if pointer.is_file():
            target = folder / pointer.read_text(encoding="utf-8").strip()
            if target.is_file():
                return target
            raise ResumeError(f"{pointer} names {target.name}, which does not exist")
    raise ResumeError(
        f"no training checkpoint at {str(path)!r}: expected a .pt file or a run folder "
        f"with {CHECKPOINT_DIR}/{LATEST}"
    )


def model_from_state(state: dict[str, Any]) -> LarvSegModel:
    """The model of a training state (`load_checkpoint`), in training mode, on CPU."""
    model = LarvSegModel(ModelConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["model"])
    return model.train()


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training state written by `save_checkpoint` (onto CPU).

    Only tensors and plain data are read (`weights_only=True`): a file holding any
    other pickled object is refused with a `ResumeError`, as it could run code.
    """
    file = find_checkpoint(path)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ResumeError(
            f"{file} holds Python objects other than tensors and plain data; larvseg does not "
            "unpickle them (that could run arbitrary code). Only resume from checkpoints "
            "larvseg-train wrote"
        ) from err
    except Exception as err:  # corrupt or truncated file: torch raises various types
        raise ResumeError(f"cannot read training checkpoint {file}: {err}") from err
    if not isinstance(state, dict) or "iteration" not in state:
        raise ResumeError(f"{file} is not a larvseg training checkpoint")
    return state
