"""One registry per extension point.

Built-in components register exactly as third parties do: by name, with a factory that
takes keyword arguments from config. Third-party packages expose factories through the
entry-point group ``switchtower.<kind>`` (for example ``switchtower.classifiers``); they
are loaded the first time a name is not found among the registered ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from switchtower.errors import ConfigError, RegistryError

__all__ = ["Registry", "config_key"]

T = TypeVar("T")
#: keywords every factory is given beside its options (not shown in errors)
_CONTEXT = frozenset({"config", "history"})
F = TypeVar("F", bound=Callable[..., Any])


class Registry(Generic[T]):
    """Name -> factory. ``create(name, **options)`` builds a component."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        #: installed packages' entry points, by name: loaded only when asked for, so
        #: one broken plugin does not break the others
        self._entry_points: dict[str, EntryPoint] = {}
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

    def _find_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=f"switchtower.{self.kind}"):
            self._entry_points.setdefault(ep.name, ep)

    def get(self, name: str) -> Callable[..., T]:
        if name in self._factories:
            return self._factories[name]
        self._find_entry_points()
        ep = self._entry_points.get(name)
        if ep is None:
            known = ", ".join(self.names()) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r} (known: {known})")
        try:
            factory: Callable[..., T] = ep.load()
        except Exception as exc:  # a plugin's import error is its own, named
            raise RegistryError(
                f"{self.kind} {name!r}: its entry point {ep.value!r} failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self._factories[name] = factory
        return factory

    def create(self, name: str, **options: Any) -> T:
        factory = self.get(name)
        try:
            return factory(**options)
        except TypeError as exc:
            # the options from config, not the whole Config and stores passed beside them
            given = {k: v for k, v in options.items() if k not in _CONTEXT}
            raise RegistryError(f"{self.kind} {name!r}: bad options {given!r}: {exc}") from exc

    def names(self) -> list[str]:
        self._find_entry_points()
        return sorted({*self._factories, *self._entry_points})

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
