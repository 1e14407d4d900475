"""Tiers, signals and classifications for router/selector tests (real stage values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchtower.config import load_config
from switchtower.config.schema import Config
from switchtower.protocols import ModelInfo, TierInfo
from switchtower.types import FAILURE_MODES, Classification, Deadline, Signal, Signals, Tier

__all__ = ["classification", "config", "model", "signals", "tiers"]


def model(name: str, tier: Tier, **kw: Any) -> ModelInfo:
    values: dict[str, Any] = {
        "provider": "openai",
        "model_id": name,
        "context_window": 128_000,
        "input_per_mtok": 1.0,
        "output_per_mtok": 4.0,
    }
    values.update(kw)
    return ModelInfo(name=name, tier=tier, **values)


def tiers(*, realtime: bool = True, batch: bool = True, local: bool = True) -> dict[Tier, TierInfo]:
    """The default config's shape: local model, queued local + batch APIs, real-time APIs."""
    why_rt = None if realtime else "no OPENAI_API_KEY"
    why_b = None if batch else "no OPENAI_API_KEY"
    return {
        "local": TierInfo(
            "local",
            (
                model(
                    "small-local",
                    "local",
                    provider="llamacpp",
                    context_window=8192,
                    input_per_mtok=0.0,
                    output_per_mtok=0.0,
                    available=local,
                    unavailable_reason=None if local else "llama.cpp not installed",
                ),
            ),
        ),
        "async": TierInfo(
            "async",
            (
                model(
                    "small-local-queued",
                    "async",
                    provider="llamacpp",
                    context_window=8192,
                    input_per_mtok=0.0,
                    output_per_mtok=0.0,
                    max_delay_s=60.0,
                    available=local,
                    unavailable_reason=None if local else "llama.cpp not installed",
                ),
                model(
                    "big-batch",
                    "async",
                    model_id="big",
                    input_per_mtok=1.0,
                    output_per_mtok=4.0,
                    batch=True,
                    max_delay_s=86_400.0,
                    available=batch,
                    unavailable_reason=why_b,
                ),
            ),
        ),
        "realtime": TierInfo(
            "realtime",
            (
                model(
                    "mini",
                    "realtime",
                    input_per_mtok=0.4,
                    output_per_mtok=1.6,
                    available=realtime,
                    unavailable_reason=why_rt,
                ),
                model(
                    "big",
                    "realtime",
                    input_per_mtok=2.0,
                    output_per_mtok=8.0,
                    available=realtime,
                    unavailable_reason=why_rt,
                ),
            ),
        ),
    }


def signals(
    deadline: Deadline = "batch",
    *,
    complexity: float = 0.2,
    context_tokens: int = 200,
    modes: Mapping[str, float] | None = None,
    history: Mapping[str, tuple[float, float]] | None = None,
    model_history: Mapping[str, tuple[float, float]] | None = None,
) -> Signals:
    scores = dict.fromkeys(FAILURE_MODES, 0.0)
    scores.update(modes or {})
    return Signals(
        complexity=Signal("complexity", complexity),
        context_tokens=context_tokens,
        deadline=deadline,
        failure_modes={k: Signal(k, v) for k, v in scores.items()},
        history=dict(history or {}),
        model_history=dict(model_history or {}),
    )


def classification(op: str, confidence: float = 1.0, **kw: Any) -> Classification:
    return Classification(operation=op, confidence=confidence, **kw)


#: the config entries of the models in :func:`tiers` (experiments name them)
CONFIG_TIERS: dict[str, Any] = {
    "local": {"models": [{"name": "small-local", "provider": "llamacpp"}]},
    "async": {
        "models": [
            {"name": "small-local-queued", "provider": "llamacpp", "max_delay_s": 60},
            {"name": "big-batch", "provider": "openai", "model": "big", "batch": True},
        ]
    },
    "realtime": {
        "models": [{"name": "mini", "provider": "openai"}, {"name": "big", "provider": "openai"}]
    },
}


def config(**overrides: Any) -> Config:
    """The built-in defaults (guards included) with the models of :func:`tiers` and
    ``overrides`` merged in."""
    return load_config(environ={}, overrides={"tiers": CONFIG_TIERS, **overrides})
