"""Per-request success predictions for every configured model (the hot path).

A :class:`Predictor` compiles a :class:`~switchtower.route.policy.Policy` against the
configured models once, and then answers, for one request's classification and signals,
each model's predicted success ``p`` and the strength of the evidence behind it (Beta
``alpha + beta``):

1. Beta posterior of (operation, model): built-in prior (``priors.py``, weight
   ``policy.prior_strength``) + the policy's evidence + live trace history from
   ``signals.model_history`` beyond what the policy has already seen (tier history
   ``signals.history`` at a quarter weight for models without their own history).
2. Item-level shift on the logit scale: the policy's learned weights for the model
   (standardized, operation-centred features), else the documented prior adjustments.
3. Classification uncertainty: the prediction is a mixture over the label and its
   alternatives weighted by their probabilities; the unclaimed probability mass goes to
   the pessimistic ``unknown`` prior.

Per-operation tables are computed once per operation and cached.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from switchtower.protocols import ModelInfo, TierInfo
from switchtower.route.features import feature_vector
from switchtower.route.learn import logit
from switchtower.route.policy import Policy
from switchtower.route.priors import (
    api_strength_shift,
    model_class,
    prior_adjustment,
    prior_success,
)
from switchtower.types import UNKNOWN, Classification, Signals, Tier

__all__ = ["Prediction", "Predictor"]

#: weight of tier-level history for a model that has no history of its own
TIER_HISTORY_WEIGHT = 0.25
#: at most this many classifier alternatives enter the mixture
MAX_ALTERNATIVES = 3


@dataclass(frozen=True, slots=True)
class Prediction:
    """One model's predicted success for one request and the evidence behind it."""

    p: float
    strength: float


@dataclass(frozen=True, slots=True)
class _Entry:
    alpha: float
    beta: float
    seen: float  # trials the policy already holds (history beyond this is new)
    const: float  # learned-weights constant for this operation's centre


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class Predictor:
    """A policy compiled against the configured models."""

    def __init__(
        self, policy: Policy, tiers: Mapping[Tier, TierInfo], *, history_weight: float = 1.0
    ) -> None:
        self.policy = policy
        self.history_weight = history_weight
        self.models: tuple[ModelInfo, ...] = tuple(m for t in tiers.values() for m in t.models)
        by_name = {m.name: m for m in self.models}
        self._cls = [model_class(m) for m in self.models]
        self._shift = [
            api_strength_shift(m, by_name) if c == "api" else 0.0
            for m, c in zip(self.models, self._cls, strict=True)
        ]
        scale = policy.feature_scale
        self._coef: list[list[float] | None] = []
        for m in self.models:
            w = policy.weights.get(m.name) or policy.weights.get(m.model_id)
            if w is None or not scale:
                self._coef.append(None)
            else:
                self._coef.append([c / s for c, s in zip(w.coef, scale, strict=True)])
        self._tables: dict[str, list[_Entry]] = {}
        #: the last request's inputs and answer: the router and then the selector ask
        #: about the same (frozen) classification and signals
        self._last: tuple[Classification, Signals, dict[str, Prediction]] | None = None

    def _table(self, operation: str) -> list[_Entry]:
        table = self._tables.get(operation)
        if table is not None:
            return table
        pol = self.policy
        evidence = pol.evidence.get(operation, {})
        centre = pol.op_feature_mean.get(operation, (pol.feature_mean, 0))[0]
        table = []
        for m, cls, shift, coef in zip(
            self.models, self._cls, self._shift, self._coef, strict=True
        ):
            p0 = _sigmoid(logit(prior_success(operation, cls)) + shift)
            s, n = evidence.get(m.name) or evidence.get(m.model_id) or (0.0, 0.0)
            const = 0.0
            if coef is not None and centre:
                const = -sum(c * x for c, x in zip(coef, centre, strict=True))
            table.append(
                _Entry(
                    alpha=p0 * pol.prior_strength + s,
                    beta=(1.0 - p0) * pol.prior_strength + (n - s),
                    seen=n,
                    const=const,
                )
            )
        self._tables[operation] = table
        return table

    def _labels(self, c: Classification) -> list[tuple[str, float]]:
        if c.confidence >= 0.999 and not c.is_unknown:
            return [(c.operation, 1.0)]
        labels: dict[str, float] = {}
        if not c.is_unknown:
            labels[c.operation] = max(c.confidence, 0.0)
        for op, prob in c.alternatives[:MAX_ALTERNATIVES]:
            if op not in (c.operation, UNKNOWN) and prob > 0.0:
                labels[op] = labels.get(op, 0.0) + prob
        claimed = sum(labels.values())
        rest = max(1.0 - claimed, 0.5 if c.is_unknown else 0.0)
        if rest > 0.0:
            labels[UNKNOWN] = labels.get(UNKNOWN, 0.0) + rest
        total = sum(labels.values())
        return [(op, w / total) for op, w in labels.items()]

    def predict(self, classification: Classification, signals: Signals) -> dict[str, Prediction]:
        """Model name -> predicted success for this request (every configured model)."""
        last = self._last
        if last is not None and last[0] is classification and last[1] is signals:
            return dict(last[2])
        x = feature_vector(classification, signals)
        adjust: list[float] = []
        for cls, coef in zip(self._cls, self._coef, strict=True):
            if coef is None:
                adjust.append(prior_adjustment(x, cls))
            else:
                adjust.append(sum(c * v for c, v in zip(coef, x, strict=True)))
        ps = [0.0] * len(self.models)
        strengths = [0.0] * len(self.models)
        for op, weight in self._labels(classification):
            table = self._table(op)
            own = op == classification.operation
            for i, e in enumerate(table):
                alpha, beta = e.alpha, e.beta
                if own:
                    alpha, beta = self._history(op, self.models[i], e, (alpha, beta), signals)
                z = logit(alpha / (alpha + beta)) + adjust[i]
                if self._coef[i] is not None:
                    z += e.const
                ps[i] += weight * _sigmoid(z)
                strengths[i] += weight * (alpha + beta)
        out = {m.name: Prediction(ps[i], strengths[i]) for i, m in enumerate(self.models)}
        self._last = (classification, signals, out)
        return dict(out)

    def _history(
        self,
        operation: str,
        m: ModelInfo,
        e: _Entry,
        ab: tuple[float, float],
        signals: Signals,
    ) -> tuple[float, float]:
        alpha, beta = ab
        hist = signals.model_history.get(m.name)
        weight, seen = self.history_weight, e.seen
        if hist is None:
            hist = signals.history.get(m.tier)
            weight *= TIER_HISTORY_WEIGHT
            seen = self.policy.tier_evidence.get(operation, {}).get(m.tier, (0.0, 0.0))[1]
        if hist is None:
            return alpha, beta
        s, n = hist
        extra = n - seen
        if n <= 0.0 or extra <= 0.0:
            return alpha, beta
        new_trials = extra * weight
        new_succ = new_trials * min(max(s / n, 0.0), 1.0)
        return alpha + new_succ, beta + new_trials - new_succ
