"""Typed dataclasses from JSON/YAML mappings and back: the one reader every config uses.

`read_dataclass(cls, data)` builds `cls` from a parsed mapping, checking every key
and value against the field annotations and building nested dataclasses; an unknown
key or a value of the wrong type raises the caller's error class with the dotted
key in the message ("optim.lr must be a number, got 'fast'"). `to_plain` is the
inverse: a dataclass as plain dicts and lists, ready for `json` or `yaml`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def read_dataclass(
    cls: type[T], data: Any, *, error: type[Exception] = ConfigError, path: str = ""
) -> T:
    """Construct dataclass `cls` from the mapping `data`, checking keys and value types.

    Args:
        cls: a dataclass type; its `__post_init__` may raise `error` or ValueError.
        data: the parsed mapping (missing keys take the field defaults).
        error: the exception class raised for every problem (it names the dotted key).
        path: the dotted prefix of `cls` in a larger document ("data.sources.0.").
    """
    if not isinstance(data, dict):
        raise error(f"{path.rstrip('.') or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    for key in data:
        if key not in names:
            raise error(f"unknown config key {path + str(key)!r}; expected one of {names}")
    kwargs = {key: _coerce(value, hints[key], path + key, error) for key, value in data.items()}
    try:
        return cls(**kwargs)
    except error:
        raise
    except (TypeError, ValueError) as err:
        raise error(f"{path.rstrip('.') or 'config'}: {err}") from err


def to_plain(value: Any) -> Any:
    """A dataclass (or nested dicts, lists, tuples of them) as plain dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def _coerce(value: Any, tp: Any, path: str, error: type[Exception]) -> Any:
    """Check `value` against annotation `tp`, building nested dataclasses."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return read_dataclass(tp, value, error=error, path=path + ".")
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _coerce(value, option, path, error)
            except error:
                continue
        raise error(f"{path}: {value!r} does not fit {_type_name(tp)}")
    if origin is Literal:
        if value not in args:
            raise error(f"{path} must be one of {list(args)}, got {value!r}")
        return value
    if origin in (list, tuple):
        return _coerce_sequence(value, origin, args, path, error)
    if origin is dict:
        if not isinstance(value, dict):
            raise error(f"{path} must be a mapping, got {value!r}")
        key_tp, value_tp = args or (Any, Any)
        return {
            _coerce(k, key_tp, f"{path}.{k}", error): _coerce(v, value_tp, f"{path}.{k}", error)
            for k, v in value.items()
        }
    if tp is type(None):
        if value is not None:
            raise error(f"{path} must be null, got {value!r}")
        return None
    if tp is float and not isinstance(value, bool):
        try:  # YAML 1.1 reads `1e-3` (no dot) as a string
            return float(value)
        except (TypeError, ValueError):
            raise error(f"{path} must be a number, got {value!r}") from None
    if tp in (int, str, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise error(f"{path} must be {tp.__name__}, got {value!r}")
        return value
    return value


def _coerce_sequence(
    value: Any, origin: Any, args: tuple[Any, ...], path: str, error: type[Exception]
) -> Any:
    """A list or tuple annotation: `list[T]`, `tuple[T, ...]` or a fixed `tuple[A, B, C]`."""
    if not isinstance(value, (list, tuple)):
        raise error(f"{path} must be a list, got {value!r}")
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise error(f"{path} must have {len(args)} values, got {len(value)}")
        pairs = enumerate(zip(value, args, strict=True))
        return tuple(_coerce(v, t, f"{path}.{i}", error) for i, (v, t) in pairs)
    item = args[0] if args else Any
    if item in (str, int) and all(type(v) is item for v in value):  # e.g. 21K wnids: fast
        return list(value) if origin is list else tuple(value)
    items = [_coerce(v, item, f"{path}.{i}", error) for i, v in enumerate(value)]
    return items if origin is list else tuple(items)


def _type_name(tp: Any) -> str:
    """`list[str] | None` rather than `typing.Optional[typing.List[str]]`."""
    return str(tp).replace("typing.", "")
