"""The training configurations shipped in the package (`larvseg/train/configs/`).

A configuration is named by its path under that folder without `.yaml`:
`larvseg_c171_wa150`, `toy/larvseg`. `larvseg-train fit --config NAME` finds it from any
directory; `--list-configs` prints them (`configs/README.md` describes the paper's).
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import TrainConfigError

SUFFIX = ".yaml"
OLD_FOLDER = "configs/"
"""Where the configurations lived in the repository; `configs/NAME.yaml` still finds NAME."""


def configs_dir() -> Path:
    """The folder of the packaged configurations."""
    return Path(str(resources.files("larvseg.train").joinpath("configs")))


def packaged_configs() -> dict[str, Path]:
    """Every packaged configuration, name -> file, sorted by name."""
    root = configs_dir()
    files = sorted(root.rglob(f"*{SUFFIX}"))
    return {path.relative_to(root).with_suffix("").as_posix(): path for path in files}


def summary(path: Path) -> str:
    """The first sentence of a configuration's leading comment (what it trains)."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        words += line.lstrip("#").split()
    text = " ".join(words)
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def list_configs() -> str:
    """Lines for `--list-configs`: each packaged name and what it trains."""
    shipped = packaged_configs()
    width = max(map(len, shipped))
    lines = [f"{name:<{width}}  {summary(path)}" for name, path in shipped.items()]
    return "\n".join([f"packaged configurations ({configs_dir()}):", *lines])


def resolve_config(value: str | Path) -> Path:
    """The configuration file `value` names: an existing file as given, else a packaged
    configuration by name (`toy/larvseg`, with or without `.yaml`, or written as its old
    repository path `configs/toy/larvseg.yaml`). `TrainConfigError` names the choices."""
    path = Path(value)
    if path.is_file():
        return path
    name = path.as_posix().removesuffix(SUFFIX).removeprefix(OLD_FOLDER)
    shipped = packaged_configs()
    if name in shipped:
        return shipped[name]
    raise TrainConfigError(
        f"config {str(value)!r}: no such file, and no packaged configuration of that name; "
        f"packaged: {', '.join(shipped)} (larvseg-train --list-configs)"
    )


class ListConfigs(argparse.Action):
    """`--list-configs`: print `list_configs()` and exit, as `--version` does."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(list_configs())
        sys.stdout.flush()  # a reader that went away is reported here, not at shutdown
        parser.exit()
