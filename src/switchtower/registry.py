"""One registry per extension point.

Built-in components register exactly as third parties do: by name, with a factory that
takes keyword arguments from config. Third-party packages expose factories through the
entry-point group ``switchtower.<kind>`` (for example ``switchtower.classifiers``); they
are loaded the first time a name is not found among the registered ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from switchtower.errors import ConfigError, RegistryError

__all__ = ["Registry", "config_key"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Registry(Generic[T]):
    """Name -> factory. ``create(name, **options)`` builds a component."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._entry_points_loaded = False

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator: ``@classifiers.register("tfidf")`` on a class or factory."""

        def deco(factory: F) -> F:
            self.add(name, factory)
            return factory

        return deco

    def add(self, name: str, factory: Callable[..., T]) -> None:
        if name in self._factories and self._factories[name] is not factory:
            raise RegistryError(f"{self.kind} {name!r} is already registered")
        self._factories[name] = factory

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=f"switchtower.{self.kind}"):
            if ep.name not in self._factories:
                self._factories[ep.name] = ep.load()

    def get(self, name: str) -> Callable[..., T]:
        if name not in self._factories:
            self._load_entry_points()
        try:
            return self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def create(self, name: str, **options: Any) -> T:
        factory = self.get(name)
        try:
            return factory(**options)
        except TypeError as exc:
            raise RegistryError(f"{self.kind} {name!r}: bad options {options!r}: {exc}") from exc

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


@contextlib.contextmanager
def config_key(key: str) -> Iterator[None]:
    """Inside: an unknown registry name or bad options came from config ``key``; raise a
    :class:`ConfigError` naming it (the CLI exits 2 on it)."""
    try:
        yield
    except RegistryError as exc:
        raise ConfigError(str(exc), key=key) from None
