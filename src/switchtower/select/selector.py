"""The ``beta`` selector: the cheapest model in the tier that is confidently good enough.

For each candidate model the selector holds a Beta posterior of its success on this
request: mean = the router's per-model prediction (``route/predictor.py``: built-in
prior, policy evidence, trace history, item features), strength = the evidence behind
it (``alpha + beta``). A model *clears* when the posterior probability that its success
rate reaches the router's ``success_threshold`` is at least the confidence threshold
(``selector.confidence_threshold``, overridden per operation by
``operations[].confidence_threshold``); with a normal approximation of the posterior,
``p - Phi^-1(confidence) * sd >= success_threshold``. Candidates are tried cheapest first
(estimated cost of this request; equal cost: higher estimate first).

- No model clears: the model of the tier with the highest expected net value,
  ``value * p - cost``, a success being worth ``router.fallback_value_calls`` (default
  20) calls of the request's reference model (the router's: the priciest configured
  model at this request's tokens), said so. With that unset, or no priced model, the
  cheapest model whose estimate is not credibly below the highest (difference within
  ``Phi^-1(confidence)`` standard errors).
- Under the router's value rule (``router.value_per_success_usd``, or the request's own
  value, which the route decision carries), the model of the tier with the highest
  ``value * p - cost`` instead (ties: the cheaper one).
- Experiments: a request of an experiment's operation goes to its hashed arm when that
  model can serve it (eligible tier and model); no exploration then.
- Exploration: a deterministic share (``selector.exploration``) of known-operation
  requests without a guard goes to a cheaper, still unproven model (fewer than
  ``proven_trials`` of evidence) whose optimistic bound ``mean + z * sd`` reaches the
  success threshold, highest bound first. The safe choice becomes its first fallback.
- Fallbacks: the other candidates of the chosen tier by cost, then the candidates of
  the higher eligible tiers, tier by tier.
- Second opinions (``verify``, not for an explored model or an experiment's arm): for
  the checked operations and tiers, the strongest other models of the chosen tier, and
  the higher tiers' models to escalate to, strongest first; under the value rule only
  those worth their price, best net value first (``verify/plan.py``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from statistics import NormalDist

from switchtower.config.schema import Config, ExperimentConfig
from switchtower.errors import NoEligibleModelError
from switchtower.protocols import ModelInfo, TierInfo
from switchtower.route.eligibility import DEFAULT_OUTPUT_TOKENS, exclusion
from switchtower.route.policy import Policy
from switchtower.route.predictor import Prediction
from switchtower.route.router import best_by_value, fallback_value
from switchtower.route.source import PolicySource
from switchtower.select.experiments import assign_arm, unit_hash
from switchtower.types import (
    TIERS,
    Classification,
    RouteDecision,
    Selection,
    Signals,
    Tier,
    tier_rank,
)
from switchtower.verify.plan import plan_checks

__all__ = ["BetaSelector"]


def _sd(pred: Prediction) -> float:
    p = min(max(pred.p, 0.0), 1.0)
    return math.sqrt(p * (1.0 - p) / (pred.strength + 1.0))


def _z_of(confidence: float) -> float:
    """The standard-normal quantile of ``confidence`` (clamped away from 0 and 1)."""
    return NormalDist().inv_cdf(min(max(confidence, 1e-6), 1.0 - 1e-6))


class BetaSelector:
    """Registered as ``beta`` in the selectors registry."""

    def __init__(
        self,
        config: Config,
        *,
        policy: Policy | None = None,
        z: float = 1.0,
        proven_trials: float = 200.0,
        output_tokens: int = DEFAULT_OUTPUT_TOKENS,
        history_weight: float = 1.0,
        reload_s: float = 5.0,
    ) -> None:
        sc = config.selector
        self.target = config.router.success_threshold
        self.value = config.router.value_per_success_usd
        self.fallback_calls = config.router.fallback_value_calls
        self.confidence = sc.confidence_threshold
        self.exploration = sc.exploration
        self.verify = config.verify
        self.z = z
        self.proven_trials = proven_trials
        self.output_tokens = output_tokens
        self.source = PolicySource.shared(
            config.router.policy, policy=policy, reload_s=reload_s, history_weight=history_weight
        )
        self._op_confidence = {
            o.name: o.confidence_threshold
            for o in config.operations
            if o.confidence_threshold is not None
        }
        self._experiments: dict[str, list[ExperimentConfig]] = {}
        for exp in sc.experiments:
            self._experiments.setdefault(exp.operation, []).append(exp)
        self._counter = itertools.count()

    # -- candidates ---------------------------------------------------------------------

    def _candidates(
        self, signals: Signals, route: RouteDecision, tiers: Mapping[Tier, TierInfo]
    ) -> dict[Tier, list[ModelInfo]]:
        by_name = {m.name: m for t in tiers.values() for m in t.models}
        out: dict[Tier, list[ModelInfo]] = {}
        for tier in route.eligible:
            names = route.candidates.get(tier)
            if names is not None:
                ms = [by_name[n] for n in names if n in by_name]
            else:  # a router that does not hand over candidates: check them here
                info = tiers.get(tier)
                ms = [
                    m
                    for m in (info.models if info else ())
                    if exclusion(
                        m,
                        deadline=signals.deadline,
                        context_tokens=signals.context_tokens,
                        needs=signals.needs,
                    )
                    is None
                ]
            if ms:
                out[tier] = ms
        return out

    def select(
        self,
        classification: Classification,
        signals: Signals,
        route: RouteDecision,
        tiers: Mapping[Tier, TierInfo],
    ) -> Selection:
        cands = self._candidates(signals, route, tiers)
        if not cands:
            raise NoEligibleModelError(
                f"no model can serve the {route.tier!r} tier: {route.explanation}"
            )
        preds = self.source.predictor(tiers).predict(classification, signals)
        ctx, out = signals.context_tokens, route.output_tokens or self.output_tokens
        for ms in cands.values():
            ms.sort(key=lambda m: (m.cost(ctx, out), -preds[m.name].p, m.name))
        op = classification.operation
        confidence = self._op_confidence.get(op, self.confidence)
        margin = _z_of(confidence)
        rid = route.request_id or f"anonymous-{next(self._counter)}"

        notes: list[str] = []
        for exp in self._experiments.get(op, ()):
            sel = self._experiment(exp, rid, cands, preds)
            if sel is not None:
                return sel
            notes.append(f"experiment {exp.name!r}: its arm cannot serve this request")

        tier = route.tier if route.tier in cands else next(iter(cands))
        pool = cands[tier]
        value = route.value_per_success_usd
        if value is None:
            value = self.value
        if value is not None:
            chosen, why = self._pick_by_value(value, pool, preds, ctx=ctx, out=out)
        else:
            picked = self._pick(pool, preds, margin, confidence)
            if picked is None:
                picked = self._fallback(
                    pool, preds, margin=margin, confidence=confidence, tiers=tiers, ctx=ctx, out=out
                )
            chosen, why = picked
        fallbacks = self._fallbacks(chosen, tier, cands)
        explored = False
        if (
            self.exploration > 0.0
            and not classification.is_unknown
            and route.rule is None
            and unit_hash("explore", rid) < self.exploration
        ):
            trial = self._explore(chosen, tier, cands, preds, ctx=ctx, out=out)
            if trial is not None:
                fallbacks = (chosen.name, *(f for f in fallbacks if f != trial.name))
                why = (
                    f"exploring {trial.name} (unproven, optimistic bound clears "
                    f"{self.target:g}) instead of {chosen.name}: {why}"
                )
                chosen, explored = trial, True
        est = preds[chosen.name]
        peers, escalation = (
            ((), ())
            if explored
            else plan_checks(
                self.verify,
                op,
                chosen,
                cands,
                success=lambda m: preds[m.name].p,
                cost=lambda m: m.cost(ctx, out),
                value=value,
            )
        )
        if peers:
            notes.append(f"second opinion from {', '.join(peers)}; on disagreement {escalation[0]}")
        return Selection(
            model=chosen.name,
            tier=chosen.tier,
            estimate=est.p,
            fallbacks=fallbacks,
            explored=explored,
            explanation="; ".join([f"{why}; estimate {est.p:.2f} +- {_sd(est):.2f}", *notes]),
            second_opinions=peers,
            escalation=escalation,
        )

    # -- the pieces -----------------------------------------------------------------------

    def _pick(
        self,
        pool: list[ModelInfo],
        preds: Mapping[str, Prediction],
        margin: float,
        confidence: float,
    ) -> tuple[ModelInfo, str] | None:
        for m in pool:
            pr = preds[m.name]
            if pr.p - margin * _sd(pr) >= self.target:
                return m, (
                    f"{m.name}: cheapest candidate with P(success >= {self.target:g}) "
                    f">= {confidence:g}"
                )
        return None

    def _fallback(
        self,
        pool: list[ModelInfo],
        preds: Mapping[str, Prediction],
        *,
        margin: float,
        confidence: float,
        tiers: Mapping[Tier, TierInfo],
        ctx: int,
        out: int,
    ) -> tuple[ModelInfo, str]:
        """No candidate clears: the best net value with a success worth
        ``fallback_value_calls`` reference calls, else the cheapest candidate not credibly
        below the highest estimate."""
        none = (
            f"no candidate in {pool[0].tier} reaches {self.target:g} with confidence {confidence:g}"
        )
        fallback = fallback_value(self.fallback_calls, tiers, ctx=ctx, out_tokens=out)
        if fallback is not None:
            value, model = fallback
            best, net = best_by_value(value, pool, preds, ctx=ctx, out_tokens=out)
            return best, (
                f"{best.name}: {none}; highest expected net value ({net:+.4g}), a success "
                f"being worth {self.fallback_calls:g} calls of {model.name} (${value:.4g})"
            )
        best = max(pool, key=lambda m: preds[m.name].p)
        top = preds[best.name]
        for m in pool:  # cheapest first: the first one not credibly worse than the best
            pr = preds[m.name]
            if pr.p >= top.p - margin * math.hypot(_sd(pr), _sd(top)):
                best = m
                break
        return (
            best,
            f"{best.name}: {none}; the cheapest one not credibly below the highest estimate",
        )

    @staticmethod
    def _pick_by_value(
        value: float, pool: list[ModelInfo], preds: Mapping[str, Prediction], *, ctx: int, out: int
    ) -> tuple[ModelInfo, str]:
        best, best_net = best_by_value(value, pool, preds, ctx=ctx, out_tokens=out)
        return best, (
            f"{best.name}: highest expected net value in {best.tier} at ${value:g} per "
            f"success ({best_net:+.4g})"
        )

    @staticmethod
    def _fallbacks(
        chosen: ModelInfo, tier: Tier, cands: Mapping[Tier, list[ModelInfo]]
    ) -> tuple[str, ...]:
        names = [m.name for m in cands.get(tier, []) if m.name != chosen.name]
        for t in TIERS:
            if tier_rank(t) > tier_rank(tier):
                names.extend(m.name for m in cands.get(t, []) if m.name != chosen.name)
        return tuple(dict.fromkeys(names))

    def _explore(
        self,
        chosen: ModelInfo,
        tier: Tier,
        cands: Mapping[Tier, list[ModelInfo]],
        preds: Mapping[str, Prediction],
        *,
        ctx: int,
        out: int,
    ) -> ModelInfo | None:
        limit = chosen.cost(ctx, out)
        best: ModelInfo | None = None
        best_ucb = -1.0
        for t, ms in cands.items():
            if tier_rank(t) > tier_rank(tier):
                continue
            for m in ms:
                pr = preds[m.name]
                if m.name == chosen.name or pr.strength >= self.proven_trials:
                    continue
                if m.cost(ctx, out) > limit or pr.p >= preds[chosen.name].p:
                    continue
                ucb = pr.p + self.z * _sd(pr)
                if ucb >= self.target and ucb > best_ucb:
                    best, best_ucb = m, ucb
        return best

    def _experiment(
        self,
        exp: ExperimentConfig,
        rid: str,
        cands: Mapping[Tier, list[ModelInfo]],
        preds: Mapping[str, Prediction],
    ) -> Selection | None:
        arm = assign_arm(exp.name, rid, exp.arms)
        for tier, ms in cands.items():
            for m in ms:
                if m.name == arm:
                    est = preds[m.name]
                    return Selection(
                        model=m.name,
                        tier=tier,
                        estimate=est.p,
                        fallbacks=self._fallbacks(m, tier, cands),
                        experiment=exp.name,
                        arm=arm,
                        explanation=(
                            f"experiment {exp.name!r}: arm {arm} (share {exp.arms[arm]:g}); "
                            f"estimate {est.p:.2f}"
                        ),
                    )
        return None
