"""One registry type for every "name in the config -> implementation" table: backbones,
temporal networks, dataset adapters and the file-name label rules of imported features."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind; looking up an unknown name raises ``error`` with the choices,
    registering a name twice raises ``ValueError`` (a second module would replace the first
    one's entry depending on import order).

    >>> NETWORKS = Registry("temporal network", ConfigError)
    >>> @NETWORKS.register("gru")
    ... def build_gru(cfg): ...
    """

    def __init__(self, what: str, error: type[Exception]) -> None:
        self.what = what
        self.error = error
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def wrap(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.what} {name!r} is registered twice: "
                                 f"{_origin(self._entries[name])} and {_origin(entry)}")
            self._entries[name] = entry
            return entry

        return wrap

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise self.error(f"unknown {self.what} {name!r}; choose from {self.names()}")
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def _origin(entry: object) -> str:
    """Where an entry was defined, ``module.qualname``, for the duplicate-name error."""
    return f"{getattr(entry, '__module__', '?')}.{getattr(entry, '__qualname__', type(entry).__name__)}"
