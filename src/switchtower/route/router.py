"""The ``policy`` router: label + features -> the cheapest tier predicted to succeed.

It reads the :class:`Classification`, the :class:`Signals`, the tiers and the request's
routing hints (deadline via signals, ``pinned_tier``, ``max_tier``, ``max_cost_usd``,
``params["max_tokens"]``), never the request text.

1. Tier eligibility: a tier is excluded when it is not configured, outside
   ``pinned_tier`` / ``max_tier``, below a guard floor (``guards.py``), or when none of
   its models can serve the request (``eligibility.py``: availability, deadline,
   context window, cost cap). Each exclusion keeps its reason.
2. Prediction: each tier's predicted success is that of its best eligible model
   (``predictor.py``: Beta posteriors from priors + policy + history, item features).
3. Decision, by the threshold rule (default): the cheapest eligible tier whose
   prediction clears ``router.success_threshold``. When none clears it, the eligible
   tier with the highest expected net value, ``value * p - cost``, a success being worth
   ``router.fallback_value_calls`` (default 20) calls of the request's reference model
   (the priciest configured model, at this request's tokens): where no tier is good
   enough, an upgrade must still be worth its price. With that unset, or no priced
   model, the tier with the highest prediction (ties: the more capable tier, unless
   both tiers' best model is the same upstream model, e.g. a batch entry of it, when the
   cheaper tier wins). With ``router.value_per_success_usd`` set, by the value rule: the
   tier of the eligible model with the highest expected net value at that value
   (estimated cost of this request; ties: the cheaper tier). The threshold rule spends
   until a tier is good enough, however little the upgrade buys; the value rule pays
   for a better tier only where the predicted gain is worth its price, which is what
   a fixed budget wants.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from switchtower.config.schema import Config
from switchtower.errors import NoEligibleModelError
from switchtower.protocols import ModelInfo, TierInfo
from switchtower.route.eligibility import DEFAULT_OUTPUT_TOKENS, exclusion, summarize_reasons
from switchtower.route.guards import GuardHit, guard_floor
from switchtower.route.policy import Policy
from switchtower.route.predictor import Prediction
from switchtower.route.source import PolicySource
from switchtower.types import (
    TIERS,
    Classification,
    Request,
    RouteDecision,
    Signals,
    Tier,
    tier_rank,
)

__all__ = ["PolicyRouter", "best_by_value", "fallback_value", "net_value", "reference_call"]

_TIE = 1e-9


def net_value(value_per_success: float, p: float, cost_usd: float) -> float:
    """Expected net value of a call: what its success is worth, less what it costs."""
    return value_per_success * p - cost_usd


def best_by_value(
    value: float,
    models: Sequence[ModelInfo],
    predictions: Mapping[str, Prediction],
    *,
    ctx: int,
    out_tokens: int,
) -> tuple[ModelInfo, float]:
    """The model (of ``models``, cheapest first) with the highest expected net value, and
    that value; a pricier model must be strictly better (ties: the cheaper one)."""
    best, best_net = models[0], -math.inf
    for m in models:
        net = net_value(value, predictions[m.name].p, m.cost(ctx, out_tokens))
        if net > best_net + _TIE:
            best, best_net = m, net
    return best, best_net


def reference_call(
    tiers: Mapping[Tier, TierInfo], *, ctx: int, out_tokens: int
) -> tuple[ModelInfo, float] | None:
    """The priciest configured model for this request's tokens and its cost (the unit of
    ``router.fallback_value_calls``); None when no configured model has a price."""
    best: ModelInfo | None = None
    best_cost = 0.0
    for info in tiers.values():
        for m in info.models:
            cost = m.cost(ctx, out_tokens)
            if cost > best_cost:
                best, best_cost = m, cost
    return None if best is None else (best, best_cost)


def fallback_value(
    calls: float | None, tiers: Mapping[Tier, TierInfo], *, ctx: int, out_tokens: int
) -> tuple[float, ModelInfo] | None:
    """The USD value of a success worth ``calls`` reference calls, and the reference
    model; None when ``calls`` is unset or no configured model has a price."""
    ref = None if calls is None else reference_call(tiers, ctx=ctx, out_tokens=out_tokens)
    if calls is None or ref is None:
        return None
    return calls * ref[1], ref[0]


def _output_tokens(request: Request, default: int) -> int:
    mt = request.params.get("max_tokens") or request.params.get("max_completion_tokens")
    return min(int(mt), default) if isinstance(mt, int) and mt > 0 else default


def _queued_on_local(model: ModelInfo, guard: GuardHit) -> bool:
    """A queued entry (an ``async`` model that answers inline, not a batch API) runs on
    the team's own hardware: a guard that keeps work off the local tier keeps it off
    these too, or a floor of ``async`` would be met by the same local model, queued."""
    return (
        model.tier == "async"
        and not model.batch
        and tier_rank(guard.min_tier) >= tier_rank("async")
    )


class PolicyRouter:
    """Registered as ``policy`` in the routers registry."""

    def __init__(
        self,
        config: Config,
        *,
        policy: Policy | None = None,
        output_tokens: int = DEFAULT_OUTPUT_TOKENS,
        history_weight: float = 1.0,
        reload_s: float = 5.0,
    ) -> None:
        self.config = config
        self.threshold = config.router.success_threshold
        self.value = config.router.value_per_success_usd
        self.fallback_calls = config.router.fallback_value_calls
        self.guards = config.router.guards
        self.output_tokens = output_tokens
        self.source = PolicySource.shared(
            config.router.policy, policy=policy, reload_s=reload_s, history_weight=history_weight
        )
        self._op_min_tier: dict[str, Tier | None] = {o.name: o.min_tier for o in config.operations}

    def _operation_floor(self, operation: str) -> Tier | None:
        return self._op_min_tier.get(operation)

    def route(
        self,
        classification: Classification,
        signals: Signals,
        tiers: Mapping[Tier, TierInfo],
        request: Request,
    ) -> RouteDecision:
        op = classification.operation
        guard = guard_floor(
            self.guards, signals, operation=op, operation_min_tier=self._operation_floor(op)
        )
        out_tokens = _output_tokens(request, self.output_tokens)
        needs = signals.needs
        excluded: dict[Tier, str] = {}
        candidates: dict[Tier, list[ModelInfo]] = {}
        for tier in TIERS:
            info = tiers.get(tier)
            reason = self._tier_reason(tier, info, request, guard)
            if reason is not None:
                excluded[tier] = reason
                continue
            assert info is not None
            ok: list[ModelInfo] = []
            why: list[tuple[str, str]] = []
            for m in info.models:
                r = exclusion(
                    m,
                    deadline=signals.deadline,
                    context_tokens=signals.context_tokens,
                    output_tokens=out_tokens,
                    max_cost_usd=request.max_cost_usd,
                    deferred_ok=request.accept_deferred,
                    needs=needs,
                )
                if r is None and guard is not None and _queued_on_local(m, guard):
                    r = f"queued local work, below the guard floor ({guard.detail})"
                if r is None:
                    ok.append(m)
                else:
                    why.append((m.name, r))
            if ok:
                candidates[tier] = ok
            else:
                excluded[tier] = summarize_reasons(why)
        if not candidates:
            detail = "; ".join(f"{t}: {r}" for t, r in excluded.items())
            raise NoEligibleModelError(f"no tier can serve this {op!r} request ({detail})")

        source = self.source
        predictions = source.predictor(tiers).predict(classification, signals)
        best: dict[Tier, ModelInfo] = {}
        predicted: dict[str, float] = {}
        for tier in TIERS:
            info = tiers.get(tier)
            pool = candidates.get(tier) or (list(info.models) if info else [])
            if not pool:
                continue
            top = max(pool, key=lambda m: (predictions[m.name].p, -m.cost(1000, 500)))
            best[tier] = top
            predicted[tier] = predictions[top.name].p
        ctx = signals.context_tokens
        for ms in candidates.values():
            ms.sort(key=lambda m: (m.cost(ctx, out_tokens), -predictions[m.name].p))

        eligible = tuple(t for t in TIERS if t in candidates)
        value = request.value_per_success_usd
        if value is None:
            value = self.value
        if value is not None:
            chosen, why_tier = self._by_value(
                value, eligible, candidates, predictions, ctx=ctx, out_tokens=out_tokens
            )
        else:
            chosen, why_tier = self._by_threshold(
                eligible,
                predicted,
                best=best,
                candidates=candidates,
                predictions=predictions,
                tiers=tiers,
                ctx=ctx,
                out_tokens=out_tokens,
            )
        explanation = self._explain(
            classification,
            predicted,
            eligible=eligible,
            excluded=excluded,
            guard=guard,
            chosen=chosen,
            why_tier=why_tier,
            best=best,
        )
        return RouteDecision(
            tier=chosen,
            predicted_success=predicted,
            eligible=eligible,
            policy_version=source.policy.version,
            rule=guard.rule if guard is not None else None,
            explanation=explanation,
            request_id=request.id,
            candidates={t: tuple(m.name for m in ms) for t, ms in candidates.items()},
            value_per_success_usd=value,
            output_tokens=out_tokens,
        )

    def _tier_reason(
        self, tier: Tier, info: TierInfo | None, request: Request, guard: GuardHit | None
    ) -> str | None:
        if info is None or not info.models:
            return "no models configured"
        if request.pinned_tier is not None and tier != request.pinned_tier:
            return f"request pinned to {request.pinned_tier}"
        if request.max_tier is not None and tier_rank(tier) > tier_rank(request.max_tier):
            return f"above the request's max_tier {request.max_tier}"
        if guard is not None and tier_rank(tier) < tier_rank(guard.min_tier):
            return f"below the guard floor ({guard.detail})"
        return None

    def _by_threshold(
        self,
        eligible: tuple[Tier, ...],
        predicted: Mapping[str, float],
        *,
        best: Mapping[Tier, ModelInfo],
        candidates: Mapping[Tier, list[ModelInfo]],
        predictions: Mapping[str, Prediction],
        tiers: Mapping[Tier, TierInfo],
        ctx: int,
        out_tokens: int,
    ) -> tuple[Tier, str]:
        """The cheapest eligible tier clearing the threshold. None clears: the best net
        value with a success worth ``fallback_value_calls`` reference calls, else the
        highest prediction."""
        clearing = [t for t in eligible if predicted[t] >= self.threshold]
        if clearing:
            return clearing[0], f"cheapest eligible tier clearing the threshold {self.threshold:g}"
        none = f"no eligible tier clears the threshold {self.threshold:g}"
        fallback = fallback_value(self.fallback_calls, tiers, ctx=ctx, out_tokens=out_tokens)
        if fallback is None:
            return self._best_effort(eligible, predicted, best), (
                f"{none}: chose the highest predicted success"
            )
        value, model = fallback
        chosen, why = self._by_value(
            value, eligible, candidates, predictions, ctx=ctx, out_tokens=out_tokens
        )
        return chosen, (
            f"{none}: {why}, a success being worth {self.fallback_calls:g} calls of {model.name}"
        )

    @staticmethod
    def _by_value(
        value: float,
        eligible: tuple[Tier, ...],
        candidates: Mapping[Tier, list[ModelInfo]],
        predictions: Mapping[str, Prediction],
        *,
        ctx: int,
        out_tokens: int,
    ) -> tuple[Tier, str]:
        net = {
            t: best_by_value(value, candidates[t], predictions, ctx=ctx, out_tokens=out_tokens)[1]
            for t in eligible
        }
        chosen = eligible[0]
        for t in eligible[1:]:  # cheapest first: a higher tier must be strictly better
            if net[t] > net[chosen] + _TIE:
                chosen = t
        nets = ", ".join(f"{t} {net[t]:+.4g}" for t in eligible)
        return chosen, (
            f"highest expected net value at ${value:g} per success (value x p - cost: {nets})"
        )

    @staticmethod
    def _best_effort(
        eligible: tuple[Tier, ...], predicted: Mapping[str, float], best: Mapping[Tier, ModelInfo]
    ) -> Tier:
        chosen = eligible[0]
        for t in eligible[1:]:
            gain = predicted[t] - predicted[chosen]
            if gain > _TIE:
                chosen = t
            elif gain >= -_TIE and best[t].model_id != best[chosen].model_id:
                chosen = t  # a tie: the more capable tier wins, unless it is the same model
        return chosen

    def _explain(
        self,
        c: Classification,
        predicted: Mapping[str, float],
        *,
        eligible: tuple[Tier, ...],
        excluded: Mapping[Tier, str],
        guard: GuardHit | None,
        chosen: Tier,
        why_tier: str,
        best: Mapping[Tier, ModelInfo],
    ) -> str:
        preds = ", ".join(
            f"{t} {predicted[t]:.2f}{'' if t in eligible else ' (excluded)'}"
            for t in TIERS
            if t in predicted
        )
        parts = [
            f"{chosen}: {why_tier}",
            f"operation {c.operation!r} (confidence {c.confidence:.2f})",
            f"predicted success {preds} (a tier's is its best model's, in {chosen} "
            f"{best[chosen].name}; the selector picks the cheapest model good enough)",
        ]
        if guard is not None:
            parts.append(f"guard {guard.rule}: {guard.detail}")
        if excluded:
            parts.append("excluded " + "; ".join(f"{t}: {r}" for t, r in excluded.items()))
        return "; ".join(parts)
