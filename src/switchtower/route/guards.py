"""Guard rules: floors on the tier that no prediction can lower.

``router.guards`` in config: a request whose ``signal`` (a failure mode or
``complexity``) scores at least ``min_score`` is never routed below ``min_tier``;
``operations[].min_tier`` is the same floor for every request of one operation.
When several fire, the highest floor wins (ties: the first in config order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from switchtower.config.schema import GuardRule
from switchtower.types import Signals, Tier, tier_rank

__all__ = ["GuardHit", "guard_floor"]


@dataclass(frozen=True, slots=True)
class GuardHit:
    """The guard that sets the floor: its name for traces and a sentence for humans."""

    rule: str
    min_tier: Tier
    detail: str


def _score(signals: Signals, name: str) -> float:
    return signals.complexity.score if name == "complexity" else signals.score(name)


def guard_floor(
    guards: Sequence[GuardRule],
    signals: Signals,
    *,
    operation: str,
    operation_min_tier: Tier | None = None,
) -> GuardHit | None:
    """The highest tier floor among the rules that fire, or ``None``."""
    best: GuardHit | None = None
    if operation_min_tier is not None:
        best = GuardHit(
            rule=f"operation:{operation}>={operation_min_tier}",
            min_tier=operation_min_tier,
            detail=f"operation {operation!r} has min_tier {operation_min_tier}",
        )
    for g in guards:
        score = _score(signals, g.signal)
        if score < g.min_score:
            continue
        if best is None or tier_rank(g.min_tier) > tier_rank(best.min_tier):
            best = GuardHit(
                rule=f"guard:{g.signal}>={g.min_score:g}->{g.min_tier}",
                min_tier=g.min_tier,
                detail=(
                    f"{g.signal} scored {score:.2f} (>= {g.min_score:g}): never below {g.min_tier}"
                ),
            )
    return best
