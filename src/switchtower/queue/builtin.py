"""Register the built-in load probes (imported by ``plugins.load_builtins``)."""

from __future__ import annotations

from switchtower.config.schema import Config
from switchtower.queue.probes import LlamaCppSlots, VllmMetrics
from switchtower.registries import load_probes

__all__ = ["LlamaCppSlots", "VllmMetrics"]


def _llamacpp(*, config: Config | None = None, url: str | None = None) -> LlamaCppSlots:
    """Registry factory; option ``url``: the ``/slots`` URL (default: from base_url)."""
    del config
    return LlamaCppSlots(url)


def _vllm(*, config: Config | None = None, url: str | None = None) -> VllmMetrics:
    """Registry factory; option ``url``: the ``/metrics`` URL (default: from base_url)."""
    del config
    return VllmMetrics(url)


load_probes.add("llamacpp", _llamacpp)
load_probes.add("vllm", _vllm)
