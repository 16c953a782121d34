"""Reading configuration files: YAML, `--set key=value` overrides, the key listing.

`load_config("run.yaml", ["optim.lr=0.01"])` is how a run's `TrainConfig` is made.

Kept apart from the schema (`larvseg.train.config`) so both stay small; neither
imports torch.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..config import DATA_ROOT_ENV
from ..vocab.benchmarks import BENCHMARK_PREFIX, PAPER_PREFIX
from .config import DATA_PATH_KEYS, DataSourceConfig, TrainConfig
from .errors import TrainConfigError
from .packaged import resolve_config


def load_config(
    path: str | Path | None,
    overrides: list[str] | tuple[str, ...] = (),
    data_root: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> TrainConfig:
    """Read a YAML file or packaged configuration (`resolve_config`; None = all
    defaults), apply `key.path=value` overrides and the data root (`data_root`, e.g.
    `--data-root`, else `with_data_root`'s rule)."""
    data = read_yaml(resolve_config(path)) if path is not None else {}
    for override in overrides:
        apply_override(data, override)
    if data_root is not None:
        section = data.setdefault("data", {})
        if not isinstance(section, dict):
            raise TrainConfigError("data must be a mapping")
        section["root"] = data_root
    return with_data_root(TrainConfig.from_dict(data), os.environ if environ is None else environ)


def with_data_root(config: TrainConfig, environ: Mapping[str, str]) -> TrainConfig:
    """`config` with every relative path of its `data` section read from the data root:
    `data.root`, else `environ["LARVSEG_DATA"]`, else unchanged (the current directory).

    The paths are each source's (and eval source's) `images`, `annotations`,
    `labels_file` and `classes` file, and a `data.base_classes` file; shipped maps
    (`benchmark:NAME`) and the paper's split (`paper`, `paper:NAME`) are no paths. They
    become absolute and `data.root` records the root, so applying it again changes
    nothing.
    """
    root = config.data.root or environ.get(DATA_ROOT_ENV)
    if not root:
        return config
    base = Path(root).expanduser().absolute()

    def under_root(value: Any) -> Any:
        is_path = (
            isinstance(value, str)
            and value not in ("", "paper")
            and not value.startswith((BENCHMARK_PREFIX, PAPER_PREFIX))
        )
        return str(base / value) if is_path and not Path(value).is_absolute() else value

    for source in [*config.data.sources, *config.data.eval_sources]:
        for key in DATA_PATH_KEYS:
            setattr(source, key, under_root(getattr(source, key)))
    config.data.base_classes = under_root(config.data.base_classes)
    config.data.root = str(base)
    return config


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
