"""The errors training reports: all `LarvSegError`s, so the CLI handles them in one place.

`TrainingError` (the run cannot go on, e.g. a loss became NaN) exits with code 1;
the others describe bad input (configuration, data, checkpoints) and exit with 2.
"""

from __future__ import annotations

from ..errors import LarvSegError


class TrainConfigError(LarvSegError, ValueError):
    """A training configuration that is malformed; the message names the dotted key."""


class DataError(LarvSegError, ValueError):
    """Bad training data; the message names the source and the file or value to fix."""


class WarmStartError(LarvSegError, ValueError):
    """The checkpoint training starts from cannot produce the requested model."""


class ResumeError(LarvSegError, RuntimeError):
    """No usable training checkpoint where resume looked, or one that is not safe to read."""


class EvaluationError(LarvSegError, ValueError):
    """Evaluation inputs that do not fit together; the message names the input."""


class TrainingError(LarvSegError, RuntimeError):
    """Training cannot go on (e.g. a loss term became NaN or infinite)."""
