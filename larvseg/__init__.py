"""larvseg: large-vocabulary semantic segmentation over ~21K WordNet categories.

Implements LarvSeg (Yu et al., PRCV 2024). Public names are imported lazily, so
`import larvseg` (and `larvseg.Vocabulary`) does not pay for torch and timm.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.3.0"
"""The one version source: `pyproject.toml` reads it, `larvseg --version` prints it,
`save_pretrained` writes it into `config.json`."""

_EXPORTS = {
    "LarvSeg": "segmenter",
    "FileResult": "segmenter",
    "DEFAULT_MODEL": "config",
    "ModelConfig": "config",
    "LarvSegModel": "modeling.model",
    "Segmentation": "result",
    "PredictOptions": "pipeline.predict",
    "ItemAssignment": "pipeline.labeling",
    "ImageFile": "pipeline.image",
    "Vocabulary": "vocab.vocabulary",
    "Category": "vocab.table",
    "SenseWarning": "vocab.vocabulary",
    "LarvSegError": "errors",
    "CheckpointError": "errors",
    "ConfigError": "errors",
    "ImageError": "errors",
    "InputError": "errors",
    "MissingExtraError": "errors",
    "VocabularyError": "errors",
}
"""Public name -> the module (relative to `larvseg`) that defines it. The stable paths
are these names and the modules listed in docs/reference/api.md."""

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the same names for type checkers (`X as X`: an explicit re-export)
    from .config import DEFAULT_MODEL as DEFAULT_MODEL
    from .config import ModelConfig as ModelConfig
    from .errors import CheckpointError as CheckpointError
    from .errors import ConfigError as ConfigError
    from .errors import ImageError as ImageError
    from .errors import InputError as InputError
    from .errors import LarvSegError as LarvSegError
    from .errors import MissingExtraError as MissingExtraError
    from .errors import VocabularyError as VocabularyError
    from .modeling.model import LarvSegModel as LarvSegModel
    from .pipeline.image import ImageFile as ImageFile
    from .pipeline.labeling import ItemAssignment as ItemAssignment
    from .pipeline.predict import PredictOptions as PredictOptions
    from .result import Segmentation as Segmentation
    from .segmenter import FileResult as FileResult
    from .segmenter import LarvSeg as LarvSeg
    from .vocab.table import Category as Category
    from .vocab.vocabulary import SenseWarning as SenseWarning
    from .vocab.vocabulary import Vocabulary as Vocabulary


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'larvseg' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
