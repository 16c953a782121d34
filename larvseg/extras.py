"""Optional dependencies: import a package of a pip extra, or say which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError


def import_extra(module: str, extra: str, feature: str) -> ModuleType:
    """Import `module` (a package of the `extra` pip extra) for `feature`.

    Raises:
        MissingExtraError: the package is not installed; the message says
            `pip install "larvseg[extra]"`.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(
            f"{feature} needs the {module.partition('.')[0]} package, which is not installed: "
            f'pip install "larvseg[{extra}]"'
        ) from err
