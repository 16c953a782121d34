"""The errors training reports: all `LarvSegError`s, so the CLI handles them in one place.

`TrainingError` (the run cannot go on, e.g. a loss became NaN) exits with code 1;
the others describe bad input (configuration, checkpoints) and exit with 2. Bad data
and evaluation inputs are core errors (`larvseg.errors.DataError`, `EvaluationError`),
as evaluation and the data readers it shares with training live in the core.
"""

from __future__ import annotations

from ..errors import LarvSegError


class TrainConfigError(LarvSegError, ValueError):
    """A training configuration that is malformed; the message names the dotted key."""


class WarmStartError(LarvSegError, ValueError):
    """The checkpoint training starts from cannot produce the requested model."""


class ResumeError(LarvSegError, RuntimeError):
    """No usable training checkpoint where resume looked, or one that is not safe to read."""


class TrainingError(LarvSegError, RuntimeError):
    """Training cannot go on (e.g. a loss term became NaN or infinite)."""
