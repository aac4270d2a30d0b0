"""One-line messages for configuration errors: ``<key> must be <what>, got <value>``."""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import ValidationError

from ..errors import DakdError


class ConfigError(DakdError):
    """The configuration is malformed."""


class Bad(ValueError):
    """Raised by a validator: ``message`` (None: describe the field's type and range) about
    the field, or about its sub-key ``key``."""

    def __init__(self, message: str | None = None, key: str | None = None) -> None:
        super().__init__(message or "invalid value")
        self.message, self.key = message, key




def format_errors(exc: ValidationError, cls: type, source: str = "", base: str = "") -> str:
    """One line for the first error: ``<source><base>.<dotted.key> must be <what>, got <value>``
    (``source``: where the value came from, e.g. ``"config.yaml: "``; ``base``: what the
    key is under, e.g. ``ModelConfig``)."""
    errors = exc.errors()
    key, problem = _format_error(errors[0], cls)
    key = ".".join(part for part in (base, key) if part) or "<config>"
    # "teacher.optim.epochs must be ..., got 0"; other problems after a colon: "teacher.x: unknown key; ..."
    message = f"{source}{key}{' ' if problem.startswith('must ') else ': '}{problem}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return one_line(message)


def _format_error(error: Any, root: type) -> tuple[str, str]:
    """The dotted key of one pydantic error and the problem: ``must be <what>, got <value>``."""
    loc = list(error["loc"])
    if loc and isinstance(loc[0], int) and loc[0] < len(dataclasses.fields(root)):
        loc[0] = dataclasses.fields(root)[loc[0]].name  # a positional argument of the constructor
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    bad = ctx.get("error")
    if isinstance(bad, Bad) and bad.key:
        loc += bad.key.split(".")
    owner, name = _owner(root, loc)
    key = _dotted(loc)
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        valid = tuple(getattr(owner, "__pydantic_fields__", {}))
        return key, unknown_key(str(loc[-1]), valid + getattr(owner, "ignored_keys", ()))
    if isinstance(bad, Exception) and not (isinstance(bad, Bad) and bad.message is None):
        return key, bad.message if isinstance(bad, Bad) else str(bad)
    if kind in ("dataclass_type", "dataclass_exact_type", "dict_type", "model_type"):
        return key, f"must be a mapping, got {show(value)}"
    described = _describe(owner, name) if owner is not None and name is not None else None
    if described is None:
        described = {"list_type": "a list", "string_type": "a string"}.get(kind)
    if described is None:
        return key, f"{error['msg'][:1].lower()}{error['msg'][1:]}, got {show(value)}"
    return key, f"must be {described}, got {show(value)}"


def _owner(root: type, loc: list[Any]) -> tuple[type | None, str | None]:
    """The dataclass holding the field ``loc`` points at, and the field's name."""
    cls, i = root, 0
    while i < len(loc) - 1:
        info = getattr(cls, "__pydantic_fields__", {}).get(loc[i])
        hint = _unwrap(info.annotation)[0] if info is not None else None
        if hint is not None and dataclasses.is_dataclass(hint):
            cls, i = hint, i + 1
        elif typing.get_origin(hint) is dict and dataclasses.is_dataclass(typing.get_args(hint)[1]):
            cls, i = typing.get_args(hint)[1], i + 2
        else:
            return None, None
    return (cls, loc[i]) if i == len(loc) - 1 else (None, None)


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """``hint`` without ``Optional`` and ``Annotated``, and whether it was optional."""
    optional = False
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = len(args) < len(typing.get_args(hint)), args[0]
    if typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    return hint, optional


def _describe(cls: type, name: str) -> str | None:
    """What field ``name`` of ``cls`` accepts: ``an integer >= 1``, ``a number in [0, 1)``, ..."""
    info = getattr(cls, "__pydantic_fields__", {}).get(name)
    if info is None:
        return None
    hint, optional = _unwrap(info.annotation)
    if typing.get_origin(hint) is Literal:
        text = "one of " + ", ".join(str(a) for a in typing.get_args(hint))
    elif hint is bool:
        text = "true or false"
    elif hint in (int, float):
        text = ("an integer" if hint is int else "a number") + _range(info.metadata)
    elif hint is str:
        text = "a string"
    else:
        return None
    return f"null or {text}" if optional else text


def _range(metadata: list[Any]) -> str:
    bounds = {}
    for item in metadata:
        for attr in ("gt", "ge", "lt", "le"):
            if getattr(item, attr, None) is not None:
                bounds[attr] = getattr(item, attr)
    low = ("gt", bounds["gt"]) if "gt" in bounds else ("ge", bounds["ge"]) if "ge" in bounds else None
    high = ("lt", bounds["lt"]) if "lt" in bounds else ("le", bounds["le"]) if "le" in bounds else None
    if low and high:
        return f" in {'(' if low[0] == 'gt' else '['}{low[1]:g}, {high[1]:g}{')' if high[0] == 'lt' else ']'}"
    symbols = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    bound = low or high
    return f" {symbols[bound[0]]} {bound[1]:g}" if bound else ""


def check_keys(mapping: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """A key of ``mapping`` outside ``allowed`` (a typo) is a ConfigError naming the nearest one."""
    for key in mapping:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: {unknown_key(str(key), allowed)}")


def unknown_key(key: str, valid: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"unknown key; did you mean {close[0]!r}?" if close else f"unknown key (valid: {', '.join(valid)})"


def _dotted(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def show(value: Any) -> str:
    """A value as the user wrote it, on one line and short."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, float) and not math.isfinite(value):
        text = str(value)
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def one_line(message: Any) -> str:
    return " ".join(str(message).split()) if "\n" in str(message) or "\r" in str(message) else str(message)
