"""larvseg: large-vocabulary semantic segmentation over ~21K WordNet categories.

Implements LarvSeg (Yu et al., PRCV 2024). Public names are imported lazily, so
`import larvseg` (and `larvseg.Vocabulary`) does not pay for torch and timm.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"
"""The one version source: `pyproject.toml` reads it, `larvseg --version` prints it,
`save_pretrained` writes it into `config.json`."""

_EXPORTS = {
    "LarvSeg": "segmenter",
    "DEFAULT_MODEL": "config",
    "ModelConfig": "config",
    "LarvSegModel": "modeling.model",
    "Segmentation": "result",
    "Vocabulary": "vocab.vocabulary",
    "Category": "vocab.table",
    "LarvSegError": "errors",
    "CheckpointError": "errors",
    "ConfigError": "errors",
    "ImageError": "errors",
    "VocabularyError": "errors",
}
"""Public name -> the module (relative to `larvseg`) that defines it."""

__all__ = [
    "DEFAULT_MODEL",
    "Category",
    "CheckpointError",
    "ConfigError",
    "ImageError",
    "LarvSeg",
    "LarvSegError",
    "LarvSegModel",
    "ModelConfig",
    "Segmentation",
    "Vocabulary",
    "VocabularyError",
]

if TYPE_CHECKING:
    from .config import DEFAULT_MODEL, ModelConfig
    from .errors import CheckpointError, ConfigError, ImageError, LarvSegError, VocabularyError
    from .modeling.model import LarvSegModel
    from .result import Segmentation
    from .segmenter import LarvSeg
    from .vocab.table import Category
    from .vocab.vocabulary import Vocabulary


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'larvseg' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
