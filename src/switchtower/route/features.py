"""The router's feature vector: what it reads besides the operation label (never the prompt)."""

from __future__ import annotations

import math

from switchtower.types import FAILURE_MODES, Classification, Signals

__all__ = ["FEATURES", "feature_vector", "features_of"]

#: the router's features, in order (see :func:`features_of`)
FEATURES: tuple[str, ...] = (
    "complexity",
    "log_context",
    *FAILURE_MODES,
    "confidence",
    "unknown",
)


def feature_vector(classification: Classification, signals: Signals) -> list[float]:
    """:func:`features_of` as a list in :data:`FEATURES` order (the hot path)."""
    fm = signals.failure_modes
    out = [signals.complexity.score, math.log1p(max(signals.context_tokens, 0))]
    for name in FAILURE_MODES:
        sig = fm.get(name)
        out.append(sig.score if sig is not None else 0.0)
    out.append(classification.confidence)
    out.append(1.0 if classification.is_unknown else 0.0)
    return out


def features_of(classification: Classification, signals: Signals) -> dict[str, float]:
    """The router's features.

    ``complexity`` (0-1), ``log_context`` (natural log of 1 + context tokens), the five
    failure-mode scores (0-1), the classifier's ``confidence`` and ``unknown`` (1.0 when
    the classifier did not know).
    """
    return dict(zip(FEATURES, feature_vector(classification, signals), strict=True))
