"""larvseg: large-vocabulary semantic segmentation over ~21K WordNet categories.

Implements LarvSeg (Yu et al., PRCV 2024). Public names are imported lazily, so
`import larvseg` (and `larvseg.Vocabulary`) does not pay for torch and timm.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "LarvSeg": "api",
    "DEFAULT_MODEL": "config",
    "CheckpointError": "hub",
    "ModelConfig": "config",
    "LarvSegModel": "model",
    "Segmentation": "result",
    "ImageError": "image",
    "Vocabulary": "vocabulary",
    "Category": "vocabulary",
    "VocabularyError": "vocabulary",
}

__all__ = [
    "DEFAULT_MODEL",
    "Category",
    "CheckpointError",
    "ImageError",
    "LarvSeg",
    "LarvSegModel",
    "ModelConfig",
    "Segmentation",
    "Vocabulary",
    "VocabularyError",
]

if TYPE_CHECKING:
    from .api import LarvSeg
    from .config import DEFAULT_MODEL, ModelConfig
    from .hub import CheckpointError
    from .image import ImageError
    from .model import LarvSegModel
    from .result import Segmentation
    from .vocabulary import Category, Vocabulary, VocabularyError


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'larvseg' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
