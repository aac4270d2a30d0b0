"""One registry type for every "name in the config -> implementation" table: backbones,
temporal networks, dataset adapters and the file-name label rules of imported features."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind; looking up an unknown name raises ``error`` with the choices.

    >>> NETWORKS = Registry("temporal network", ValueError)
    >>> @NETWORKS.register("gru")
    ... def build_gru(cfg): ...
    """

    def __init__(self, what: str, error: type[Exception]) -> None:
        self.what = what
        self.error = error
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def wrap(entry: T) -> T:
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
