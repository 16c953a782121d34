"""The errors larvseg raises on bad input: one base class, one subclass per kind of input.

Every message names the input and says what to do. Each subclass also keeps the
builtin base it had before (`ValueError` or `RuntimeError`), so existing `except
ValueError` blocks still catch it. Training errors (`larvseg.train.errors`) derive
from `LarvSegError` too, so `except LarvSegError` catches everything larvseg reports.
"""

from __future__ import annotations


class LarvSegError(Exception):
    """Base class of every error larvseg raises on purpose; the message says what to fix."""


class ConfigError(LarvSegError, ValueError):
    """A model configuration (`config.json`) that cannot describe a valid model."""


class BackboneError(LarvSegError, ValueError):
    """A timm model that cannot serve as a dense ViT backbone."""


class CheckpointError(LarvSegError, RuntimeError):
    """A checkpoint that cannot be found, downloaded or loaded; the message says what to do."""


class ImageError(LarvSegError, ValueError):
    """An image input that cannot be turned into RGB; the message names it and says why."""


class VocabularyError(LarvSegError, ValueError):
    """An item or vocabulary that cannot be used; the message names it and says what to do."""


class InputError(LarvSegError, ValueError):
    """An argument outside what a function accepts (a mode, a size, a dtype, a device)."""


class DataError(LarvSegError, ValueError):
    """Data on disk that cannot be used (a missing folder, an unpaired or unreadable label
    map, a class list that does not fit); the message names the file and what to fix."""


class EvaluationError(LarvSegError, ValueError):
    """Evaluation inputs that do not fit together; the message names the input."""


class OutputError(LarvSegError, ValueError):
    """An output location that cannot be written (under a file, a folder where a file is
    expected, no permission); the message names the path."""


class MissingExtraError(LarvSegError, ImportError):
    """An optional feature used without its pip extra; the message names the extra to install."""
