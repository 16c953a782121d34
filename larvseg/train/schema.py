"""Reading configuration files: YAML, `--set key=value` overrides, the key listing.

`load_config("run.yaml", ["optim.lr=0.01"])` is how a run's `TrainConfig` is made.

Kept apart from the schema (`larvseg.train.config`) so both stay small; neither
imports torch.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from .config import DataSourceConfig, TrainConfig
from .errors import TrainConfigError


def load_config(
    path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()
) -> TrainConfig:
    """Read a YAML file (None = all defaults) and apply `key.path=value` overrides."""
    data = read_yaml(path) if path is not None else {}
    for override in overrides:
        apply_override(data, override)
    return TrainConfig.from_dict(data)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML config file (empty file: {}); `TrainConfigError` otherwise."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise TrainConfigError(f"cannot read config {str(path)!r}: {err}") from err
    if not isinstance(data, dict):
        raise TrainConfigError(f"config {str(path)!r} must be a YAML mapping")
    return data


def describe_keys() -> list[str]:
    """`key = default` for every configurable key, data source fields included."""
    lines: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            else:
                shown = (
                    "[] (list of data sources, fields below)"
                    if f.name.endswith("sources")
                    else repr(value)
                )
                lines.append(f"{prefix}{f.name} = {shown}")

    walk(TrainConfig(), "")
    for f in dataclasses.fields(DataSourceConfig):
        missing = f.default is dataclasses.MISSING
        lines.append(f"data.sources.N.{f.name} = {'(required)' if missing else repr(f.default)}")
    return lines


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set `a.b.0.c=value` in a nested dict/list; the value is parsed as a YAML scalar."""
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise TrainConfigError(f"override {override!r} is not of the form key.path=value")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise TrainConfigError(f"override {override!r}: value is not valid YAML: {err}") from err
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise TrainConfigError(f"override {key!r}: {where!r} is not an index of the list")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise TrainConfigError(f"override {key!r}: {where!r} is inside a scalar")
