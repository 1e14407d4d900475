"""Register the built-in signal extractors (imported by ``plugins.load_builtins``)."""

from __future__ import annotations

from switchtower.registries import signal_extractors
from switchtower.signals.extractor import heuristic_factory

__all__ = ["heuristic_factory"]

signal_extractors.add("heuristic", heuristic_factory)
