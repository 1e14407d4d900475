"""Load the built-in components. They register exactly as a third party's would."""

from __future__ import annotations

import functools
import importlib

__all__ = ["BUILTIN_MODULES", "load_builtins"]

BUILTIN_MODULES: tuple[str, ...] = (
    "switchtower.classify.builtin",
    "switchtower.signals.builtin",
    "switchtower.route.builtin",
    "switchtower.select.builtin",
    "switchtower.providers.builtin",
    "switchtower.cache.builtin",
    "switchtower.scoring.builtin",
    "switchtower.queue.builtin",
)


@functools.cache
def load_builtins() -> None:
    """Import each built-in module once; importing registers its components."""
    for name in BUILTIN_MODULES:
        importlib.import_module(name)
