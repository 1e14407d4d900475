"""One nightly pass: score the window's traces, fit, gate, publish.

1. **Score**: every answered trace of the window (default: the last 24 hours) with an
   outcome becomes an example (:mod:`switchtower.nightly.scoring`).
2. **Split**: a fixed hash of the trace id holds out a quarter of them.
3. **Fit**: :func:`~switchtower.route.policy.fit_policy` updates the active policy with
   the other three quarters (a Bayesian update: its evidence is kept, the new added).
4. **Gate**: both policies predict the held-out outcomes (the same predictor the router
   uses); the candidate passes only with a lower log-loss, and only when at least
   ``min_holdout`` held-out examples judge it.
5. **Publish**: a passing update is refitted on all examples and published as a new
   version (parent: the active one); the gate's numbers are kept in its ``meta``.

Nothing is published on a dry run, on too few examples, or when the gate fails; the
report says which and why.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from switchtower.config.schema import Config
from switchtower.nightly.history import PolicyHistory
from switchtower.nightly.scoring import ScoredTrace, score_checked, score_trace
from switchtower.pricing import build_model_infos
from switchtower.protocols import TierInfo
from switchtower.registries import providers as provider_registry
from switchtower.route.policy import Policy, fit_policy
from switchtower.route.predictor import Predictor
from switchtower.types import Tier, Trace

__all__ = ["NightlyReport", "gate_loss", "run_nightly"]

_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class NightlyReport:
    """What a pass did, with the numbers that decided it."""

    window: tuple[float, float]
    traces: int
    scored: int
    train: int
    holdout: int
    loss_active: float | None
    loss_candidate: float | None
    published: bool
    reason: str
    active_version: str
    new_version: str | None = None
    by_model: dict[str, tuple[int, float]] = field(default_factory=dict)
    #: judged traces per outcome source (``feedback``, ``contract``, ...)
    by_source: dict[str, int] = field(default_factory=dict)
    #: traces of the window that the active policy already learned from (skipped)
    already_learned: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "window": list(self.window),
            "traces": self.traces,
            "scored": self.scored,
            "train": self.train,
            "holdout": self.holdout,
            "loss_active": self.loss_active,
            "loss_candidate": self.loss_candidate,
            "published": self.published,
            "reason": self.reason,
            "active_version": self.active_version,
            "new_version": self.new_version,
            "already_learned": self.already_learned,
            "by_model": {m: {"n": n, "mean_quality": q} for m, (n, q) in self.by_model.items()},
            "by_source": dict(self.by_source),
        }


def _held_out(trace_id: str) -> bool:
    return hashlib.sha256(trace_id.encode("utf-8")).digest()[0] % 4 == 0


def gate_loss(
    policy: Policy, tiers: Mapping[Tier, TierInfo], items: Sequence[ScoredTrace]
) -> float:
    """Mean log-loss of ``policy``'s predictions for the judged models' outcomes."""
    predictor = Predictor(policy, tiers, history_weight=0.0)
    total = 0.0
    for item in items:
        p = predictor.predict(item.classification, item.signals)[item.example.model].p
        p = min(max(p, _EPS), 1.0 - _EPS)
        q = item.example.quality
        total -= q * math.log(p) + (1.0 - q) * math.log(1.0 - p)
    return total / len(items)


def _tiers(config: Config) -> Mapping[Tier, TierInfo]:
    names = {m.provider for t in config.tiers.values() for m in t.models}
    chosen = {n: provider_registry.create(n, config=config) for n in sorted(names)}
    infos = build_model_infos(config, chosen)
    # availability does not matter for judging predictions
    return {
        t: replace(info, models=tuple(replace(m, available=True) for m in info.models))
        for t, info in infos.items()
    }


def _by_model(items: Iterable[ScoredTrace]) -> dict[str, tuple[int, float]]:
    sums: dict[str, tuple[int, float]] = {}
    for it in items:
        n, q = sums.get(it.example.model, (0, 0.0))
        sums[it.example.model] = (n + 1, q + it.example.quality)
    return {m: (n, round(q / n, 4)) for m, (n, q) in sorted(sums.items())}


def _learned_through(policy: Policy) -> float | None:
    """When the store recorded the newest verdict the policy's last pass learned from
    (None: the priors, or a policy the loop did not publish): its evidence holds every
    verdict recorded up to then, so a later pass takes only those recorded after (late
    feedback, a job answered after the pass, a trace replayed from the spool)."""
    through = dict(policy.meta).get("nightly", {}).get("learned_through")
    return float(through) if isinstance(through, int | float) else None


def run_nightly(
    config: Config,
    traces: Iterable[Trace],
    history: PolicyHistory,
    *,
    window: tuple[float, float],
    min_holdout: int = 10,
    dry_run: bool = False,
    seed: int = 0,
    now: float | None = None,
) -> NightlyReport:
    """Score ``traces`` (those of ``window``), fit, gate and maybe publish to ``history``."""
    from switchtower.plugins import load_builtins

    load_builtins()
    models: dict[str, Tier] = {m.name: tier for tier, t in config.tiers.items() for m in t.models}
    active = history.current()
    learned_through = _learned_through(active)
    seen = already = 0
    newest: float | None = None
    scored: list[ScoredTrace] = []
    for trace in traces:
        at = trace.outcome.at if trace.outcome is not None else None
        if learned_through is not None and at is not None and at <= learned_through:
            already += 1  # counted once: a re-run or an overlapping window adds nothing
            continue
        seen += 1
        if at is not None:
            newest = at if newest is None else max(newest, at)
        for item in (score_trace(trace, models), score_checked(trace, models)):
            if item is not None:
                scored.append(item)
    hold = [s for s in scored if _held_out(s.trace_id)]
    train = [s for s in scored if not _held_out(s.trace_id)]
    base = NightlyReport(
        window=window,
        traces=seen,
        scored=len(scored),
        train=len(train),
        holdout=len(hold),
        loss_active=None,
        loss_candidate=None,
        published=False,
        reason="",
        active_version=active.version,
        by_model=_by_model(scored),
        by_source=dict(Counter(s.source for s in scored).most_common()),
        already_learned=already,
    )
    if len(hold) < min_holdout or not train:
        why = (
            f"too few judged traces: {len(hold)} held out (at least {min_holdout} needed) "
            f"of {len(scored)} scored; the active policy stays"
        )
        return replace(base, reason=why)
    tier_of: dict[str, Tier] = dict(models)
    candidate = fit_policy(
        [s.example for s in train], models=tier_of, prior=active, seed=seed, created_at=now
    )
    tiers = _tiers(config)
    old, new = gate_loss(active, tiers, hold), gate_loss(candidate, tiers, hold)
    base = replace(base, loss_active=round(old, 6), loss_candidate=round(new, 6))
    if new >= old:
        why = f"the update predicts held-out outcomes no better (log-loss {new:.4f} vs {old:.4f})"
        return replace(base, reason=why)
    final = fit_policy(
        [s.example for s in scored], models=tier_of, prior=active, seed=seed, created_at=now
    )
    final = replace(
        final,
        meta={
            **dict(final.meta),
            "nightly": {
                "window": list(window),
                "learned_through": newest,
                "scored": len(scored),
                "holdout": len(hold),
                "loss_parent": round(old, 6),
                "loss_candidate": round(new, 6),
                "published_at": now if now is not None else time.time(),
            },
        },
    )
    why = f"held-out log-loss {old:.4f} -> {new:.4f}"
    if dry_run:
        return replace(base, reason=f"dry run: would publish ({why})")
    history.publish(final)
    return replace(base, published=True, reason=why, new_version=final.version)
