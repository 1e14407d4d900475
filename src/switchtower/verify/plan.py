"""Who gives a second opinion on a cheap answer, and who answers when they disagree.

Called by the selector once it has chosen a model (:func:`plan_checks`). A check is
planned only when all of these hold:

* checking is on (``verify.second_opinions`` > 0) for the request's operation, and the
  chosen model's tier is one of ``verify.tiers``;
* another model of that tier can serve the request (the peers: highest predicted
  success first, then cheaper; another entry of the chosen upstream model is not one);
* a higher eligible tier can serve it (the escalation: highest predicted success first,
  then cheaper). An escalation answers while the client waits, so a batch API (which
  answers later, through the job queue) is never one. A request pinned to a tier, capped
  at one or with a tight cost cap has no higher eligible tier, so it is never escalated
  behind the client's back.

Under the value rule (a value per success is set), an escalation model must also be
worth its price against the chosen model's own estimate, ``value x p - cost`` higher
than the chosen model's, and the escalation is ordered by that net value. Where none is,
no check is planned: a tight budget is not spent on escalations. (On a disagreement the
cheap model's chance is lower than its estimate, so this test escalates less than it
could, never more.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from switchtower.config.schema import VerifyConfig
from switchtower.protocols import ModelInfo
from switchtower.route.router import net_value
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
    value: float | None = None,
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

    # another entry of the same upstream model is not a second opinion
    peers = sorted(
        (m for m in candidates.get(chosen.tier, ()) if m.model_id != chosen.model_id),
        key=strongest_first,
    )[: verify.second_opinions]
    # an escalation answers while the client waits: a batch API cannot be one
    higher = sorted(
        (
            m
            for t in TIERS
            if tier_rank(t) > tier_rank(chosen.tier)
            for m in candidates.get(t, ())
            if not m.batch
        ),
        key=strongest_first,
    )
    if value is not None:

        def net(m: ModelInfo) -> float:
            return net_value(value, success(m), cost(m))

        floor = net(chosen)
        higher = sorted((m for m in higher if net(m) > floor), key=lambda m: (-net(m), m.name))
    if not peers or not higher:
        return (), ()
    return tuple(m.name for m in peers), tuple(m.name for m in higher)
