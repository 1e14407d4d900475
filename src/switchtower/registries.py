"""The registries, one per extension point.

Factories are called with keyword arguments: always ``config`` (the whole
:class:`~switchtower.config.schema.Config`), plus the component's ``options`` from
config, plus, for signal extractors, ``history`` (a
:class:`~switchtower.protocols.HistorySource` or ``None``).
"""

from __future__ import annotations

from switchtower.protocols import (
    Classifier,
    LoadProbe,
    OutcomeScorer,
    Provider,
    ResponseCache,
    Router,
    Selector,
    SignalExtractor,
)
from switchtower.registry import Registry

__all__ = [
    "caches",
    "classifiers",
    "load_probes",
    "providers",
    "routers",
    "scorers",
    "selectors",
    "signal_extractors",
]

classifiers: Registry[Classifier] = Registry("classifiers")
signal_extractors: Registry[SignalExtractor] = Registry("signals")
routers: Registry[Router] = Registry("routers")
selectors: Registry[Selector] = Registry("selectors")
providers: Registry[Provider] = Registry("providers")
caches: Registry[ResponseCache] = Registry("caches")
scorers: Registry[OutcomeScorer] = Registry("scorers")
load_probes: Registry[LoadProbe] = Registry("load_probes")
