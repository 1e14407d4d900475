"""Who gives a second opinion on a cheap answer, and who answers when they disagree.

Called by the selector once it has chosen a model (:func:`plan_checks`). A check is
planned only when all of these hold:

* checking is on (``verify.second_opinions`` > 0) for the request's operation, and the
  chosen model's tier is one of ``verify.tiers``;
* another model of that tier can serve the request (the peers: highest predicted
  success first, then cheaper);
* a higher eligible tier can serve it (the escalation: highest predicted success first,
  then cheaper, so a batch entry wins over its real-time twin where the deadline allows
  it). A request pinned to a tier, capped at one or with a tight cost cap has no higher
  eligible tier, so it is never escalated behind the client's back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from switchtower.config.schema import VerifyConfig
from switchtower.protocols import ModelInfo
from switchtower.types import TIERS, Tier, tier_rank

__all__ = ["plan_checks"]


def plan_checks(
    verify: VerifyConfig,
    operation: str,
    chosen: ModelInfo,
    candidates: Mapping[Tier, Sequence[ModelInfo]],
    *,
    success: Callable[[ModelInfo], float],
    cost: Callable[[ModelInfo], float],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(second_opinions, escalation)`` model names; both empty when no check applies."""
    if (
        verify.second_opinions <= 0
        or operation not in verify.operations
        or chosen.tier not in verify.tiers
    ):
        return (), ()

    def strongest_first(m: ModelInfo) -> tuple[float, float, str]:
        return (-success(m), cost(m), m.name)

    peers = sorted(
        (m for m in candidates.get(chosen.tier, ()) if m.name != chosen.name),
        key=strongest_first,
    )[: verify.second_opinions]
    higher = sorted(
        (m for t in TIERS if tier_rank(t) > tier_rank(chosen.tier) for m in candidates.get(t, ())),
        key=strongest_first,
    )
    if not peers or not higher:
        return (), ()
    return tuple(m.name for m in peers), tuple(m.name for m in higher)
