"""Validated config dataclasses: construction, defaults of nested sections, number types."""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, ValidationError
from pydantic.dataclasses import dataclass

from .messages import Bad, ConfigError, format_errors


def not_bool(value: Any) -> Any:
    """Numbers must be numbers: YAML's true/false are not 1/0 here."""
    if isinstance(value, bool):
        raise Bad()
    return value


Int = Annotated[int, BeforeValidator(not_bool)]
Float = Annotated[float, BeforeValidator(not_bool)]

# extra=forbid: unknown keys are errors. allow_inf_nan=False: NaN/inf are errors.
# coerce_numbers_to_str: a string field given a number (a checkpoint path "1") keeps it as text.
# Numbers given as strings ("1e-3": PyYAML reads 1e-3 without a dot as a string) are numbers.
_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, coerce_numbers_to_str=True)


def config_dataclass(cls: type) -> type:
    """A validated dataclass: ``pydantic.dataclasses.dataclass`` whose construction with a
    bad value raises a one-line :class:`ConfigError` (``Class.key must be ..., got value``)."""
    cls = dataclass(config=_CONFIG)(cls)
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
        except ValidationError as exc:
            raise ConfigError(format_errors(exc, cls, base=cls.__name__)) from None

    cls.__init__ = __init__
    return cls


def validate(cls: type, data: Any) -> Any:
    """``cls`` validated from ``data`` (its missing keys keep their defaults); raises ValidationError."""
    ignored = getattr(cls, "ignored_keys", ())
    if ignored and isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in ignored}
    return cls.__pydantic_validator__.validate_python(_with_defaults(cls, data))


def has_error(cls: type, data: Any, error: Any) -> bool:
    """Whether ``data`` has ``error`` (same key, same kind of problem) as a ``cls``."""
    try:
        validate(cls, data)
    except ValidationError as exc:
        return any((e["loc"], e["type"]) == (error["loc"], error["type"]) for e in exc.errors())
    return False


def _with_defaults(cls: type, data: Any) -> Any:
    """``data`` with each nested section given partially (or empty: ``teacher:``) completed
    from that field's default, which for ``student.model`` differs from ``ModelConfig()``.
    A mapping of named sections (``extract.backbones``) replaces the default whole."""
    if not isinstance(data, dict):
        return data
    fields = getattr(cls, "__pydantic_fields__", {})
    out = dict(data)
    default = None
    for name, value in data.items():
        info = fields.get(name)
        if info is None or not (value is None or isinstance(value, dict)):
            continue
        if dataclasses.is_dataclass(info.annotation):
            if default is None:
                default = cls()
            out[name] = _merge_defaults(dataclasses.asdict(getattr(default, name)), value or {})
        elif value is None and typing.get_origin(info.annotation) is dict:
            out[name] = {}
    return out


def _merge_defaults(default: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    merged = dict(default)
    for key, item in value.items():
        if key == "backbones" and isinstance(item, dict):  # named sections: replace the default whole
            merged[key] = {name: {} if entry is None else entry for name, entry in item.items()}
        elif isinstance(merged.get(key), dict) and (item is None or isinstance(item, dict)):
            merged[key] = _merge_defaults(merged[key], item or {})
        else:
            merged[key] = item
    return merged


