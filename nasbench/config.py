"""Strict, frozen configuration dataclasses and ``key=value`` overrides.

Overrides are parsed with ``ast.literal_eval`` (a bare word that is not a literal is taken as a
string), checked against the field's declared type, and rejected when the key does not exist.
"""
from __future__ import annotations

import ast
import dataclasses
import typing
from typing import Any, Iterable

from nasbench.errors import ConfigError, UnknownNameError


def parse_override(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not of the form key=value (for example train.lr=0.01)")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return key.strip(), value


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """Return ``value`` as ``annotation`` or raise ConfigError; ints widen to floats, lists to tuples."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for arg in args:
            try:
                return coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}={value!r}: expected {annotation}, got {type(value).__name__}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{key}={value!r}: must be one of {', '.join(repr(a) for a in args)}")
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{key}={value!r}: expected a sequence such as (1, 2)")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], key) for v in value)
        if origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{key}={value!r}: expected {len(args)} items")
            return tuple(coerce(v, a, key) for v, a in zip(value, args))
        return tuple(value) if origin is tuple else list(value)
    if annotation is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}={value!r}: expected None")
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(annotation, type) and isinstance(value, annotation):
        if annotation is int and isinstance(value, bool):
            raise ConfigError(f"{key}={value!r}: expected int, got bool")
        return value
    raise ConfigError(
        f"{key}={value!r}: expected {getattr(annotation, '__name__', annotation)}, "
        f"got {type(value).__name__}"
    )


def override(config: Any, key: str, value: Any, _done: str = "") -> Any:
    """Return a copy of the frozen dataclass ``config`` with dotted ``key`` set to ``value``."""
    head, _, rest = key.partition(".")
    full = _done + head
    types = _field_types(type(config))
    if head not in types:
        raise UnknownNameError("config key", full, [_done + t for t in types])
    current = getattr(config, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise ConfigError(f"{full}.{rest}: {full!r} is a value, not a section with keys")
        return dataclasses.replace(config, **{head: override(current, rest, value, full + ".")})
    if dataclasses.is_dataclass(current):
        raise ConfigError(f"{full}: {full!r} is a section; set one of its keys, e.g. {full}.<key>=...")
    new = dataclasses.replace(config, **{head: coerce(value, types[head], full)})
    validate = getattr(new, "validate", None)
    if validate is not None:
        validate()
    return new


def apply_overrides(config: Any, overrides: Iterable[str]) -> Any:
    for text in overrides:
        config = override(config, *parse_override(text))
    return config


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
