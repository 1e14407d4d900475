"""The versioned policy artifact: what the router and the selector have learned.

A :class:`Policy` is plain JSON (no pickle): per-(operation, model) outcome evidence
(successes, trials) that becomes Beta posteriors on top of the built-in priors,
per-(operation, tier) aggregates, and, where the data allowed it, per-model logistic
weights over the router's features so items of the same operation can be told apart.
Every saved policy carries a ``version`` (content hash + UTC timestamp) and the version
of its ``parent``, so the nightly loop can gate a new policy and roll back to an old one.

:func:`fit_policy` turns :class:`OutcomeExample` values into a policy. It serves both the
offline fit (full information: every model's outcome per item) and the online update
(bandit feedback: only the model that was used); with ``prior`` it is a Bayesian update
of that policy: its evidence is kept and the new examples are added.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from switchtower.errors import ConfigError
from switchtower.route.features import FEATURES, feature_vector, features_of
from switchtower.route.learn import fit_logistic, logit
from switchtower.route.priors import PRIOR_STRENGTH
from switchtower.types import TIERS, Tier

__all__ = [
    "FEATURES",
    "FORMAT",
    "MIN_EXAMPLES",
    "ModelWeights",
    "OutcomeExample",
    "Policy",
    "feature_vector",
    "features_of",
    "fit_policy",
]

FORMAT = "switchtower.policy/1"

#: a model needs this many examples before feature weights are fitted for it
MIN_EXAMPLES = 40


@dataclass(frozen=True, slots=True)
class OutcomeExample:
    """One observed outcome: what the learner sees (never the prompt)."""

    operation: str
    features: Mapping[str, float]
    tier: Tier
    model: str
    quality: float
    cost_usd: float


@dataclass(frozen=True, slots=True)
class ModelWeights:
    """Logistic weights of one model on standardized, per-operation-centred features."""

    coef: tuple[float, ...]
    lam: float
    n: int
    cv_gain: float


def _pairs(d: Mapping[str, Mapping[str, tuple[float, float]]]) -> dict[str, Any]:
    return {
        k: {m: {"successes": s, "trials": n} for m, (s, n) in sorted(v.items())}
        for k, v in sorted(d.items())
    }


@dataclass(frozen=True, slots=True)
class Policy:
    """The versioned, reversible policy artifact (JSON)."""

    #: operation -> model -> (successes, trials) observed
    evidence: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)
    #: operation -> tier -> (successes, trials) observed
    tier_evidence: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)
    #: model -> learned feature weights (only where the data allowed it)
    weights: Mapping[str, ModelWeights] = field(default_factory=dict)
    #: global feature mean and scale used to standardize
    feature_mean: tuple[float, ...] = ()
    feature_scale: tuple[float, ...] = ()
    #: operation -> (feature means, examples behind them): the per-operation centre
    op_feature_mean: Mapping[str, tuple[tuple[float, ...], int]] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)
    prior_strength: float = PRIOR_STRENGTH
    version: str = "builtin"
    created_at: float = 0.0
    parent: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def builtin(cls) -> Policy:
        """No traces at all: only the built-in priors (``switchtower.route.priors``)."""
        return cls()

    # -- serialization ------------------------------------------------------------------

    def _content(self) -> dict[str, Any]:
        ops: dict[str, Any] = {}
        for op in sorted(set(self.evidence) | set(self.tier_evidence) | set(self.op_feature_mean)):
            entry: dict[str, Any] = {
                "models": _pairs({op: self.evidence.get(op, {})})[op],
                "tiers": _pairs({op: self.tier_evidence.get(op, {})})[op],
            }
            if op in self.op_feature_mean:
                means, n = self.op_feature_mean[op]
                entry["feature_mean"] = list(means)
                entry["feature_n"] = n
            ops[op] = entry
        return {
            "format": FORMAT,
            "features": list(FEATURES),
            "prior_strength": self.prior_strength,
            "models": dict(sorted(self.models.items())),
            "scaling": {
                "mean": list(self.feature_mean),
                "scale": list(self.feature_scale),
            },
            "operations": ops,
            "weights": {
                m: {
                    "coef": dict(zip(FEATURES, w.coef, strict=True)),
                    "lambda": w.lam,
                    "n": w.n,
                    "cv_gain": w.cv_gain,
                }
                for m, w in sorted(self.weights.items())
            },
            "meta": dict(self.meta),
        }

    def content_hash(self) -> str:
        raw = json.dumps(self._content(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created_at": self.created_at,
            "parent": self.parent,
            **self._content(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Policy:
        if d.get("format") != FORMAT:
            raise ValueError(f"not a switchtower policy (format {d.get('format')!r})")
        features = list(d.get("features", []))
        if features != list(FEATURES):
            raise ValueError(f"feature list {features} does not match this version {FEATURES}")
        evidence: dict[str, dict[str, tuple[float, float]]] = {}
        tiers: dict[str, dict[str, tuple[float, float]]] = {}
        op_means: dict[str, tuple[tuple[float, ...], int]] = {}
        for op, entry in d.get("operations", {}).items():
            evidence[op] = {
                m: (float(v["successes"]), float(v["trials"])) for m, v in entry["models"].items()
            }
            tiers[op] = {
                t: (float(v["successes"]), float(v["trials"])) for t, v in entry["tiers"].items()
            }
            if "feature_mean" in entry:
                op_means[op] = (
                    tuple(float(x) for x in entry["feature_mean"]),
                    int(entry["feature_n"]),
                )
        weights = {
            m: ModelWeights(
                coef=tuple(float(w["coef"][f]) for f in FEATURES),
                lam=float(w["lambda"]),
                n=int(w["n"]),
                cv_gain=float(w["cv_gain"]),
            )
            for m, w in d.get("weights", {}).items()
        }
        scaling = d.get("scaling", {})
        return cls(
            evidence=evidence,
            tier_evidence=tiers,
            weights=weights,
            feature_mean=tuple(float(x) for x in scaling.get("mean", [])),
            feature_scale=tuple(float(x) for x in scaling.get("scale", [])),
            op_feature_mean=op_means,
            models=dict(d.get("models", {})),
            prior_strength=float(d.get("prior_strength", PRIOR_STRENGTH)),
            version=str(d["version"]),
            created_at=float(d.get("created_at", 0.0)),
            parent=d.get("parent"),
            meta=dict(d.get("meta", {})),
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (temp file + rename), so a reader never sees half a policy."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=p.name, suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=1, sort_keys=True)
        # mkstemp makes it 0600; a gateway running as another user must read it: the
        # mode a plain open() would give (0666 less the umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Policy:
        try:
            data = json.loads(Path(path).read_text("utf-8"))
            return cls.from_json(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"cannot load policy: {exc}", file=str(path), key="router.policy"
            ) from exc

    def stamped(self, *, parent: str | None, created_at: float | None = None) -> Policy:
        """This policy with a fresh version id (content hash + UTC timestamp)."""
        ts = time.time() if created_at is None else created_at
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts))
        return replace(
            self, version=f"{self.content_hash()[:12]}-{stamp}", created_at=ts, parent=parent
        )


def _merge_counts(
    into: dict[str, dict[str, tuple[float, float]]], key: str, sub: str, q: float
) -> None:
    s, n = into[key].get(sub, (0.0, 0.0))
    into[key][sub] = (s + q, n + 1.0)


def fit_policy(
    examples: Iterable[OutcomeExample],
    *,
    models: Mapping[str, Tier],
    prior: Policy | None = None,
    seed: int = 0,
    created_at: float | None = None,
) -> Policy:
    """Fit (or, with ``prior``, update) a policy from observed outcomes.

    Per (operation, model): the evidence (sum of quality, count) is added to the prior
    policy's. Per model with at least :data:`MIN_EXAMPLES` examples and varying outcomes:
    an L2-regularized logistic regression on standardized, per-operation-centred features
    with the model's per-operation success logit as offset, penalty chosen by 3-fold
    cross-validation and kept only if it beats the centre (the prior's weights, or none)
    on held-out log-loss. The result is stamped with a new version whose parent is
    ``prior.version``.
    """
    base = prior or Policy.builtin()
    exs = list(examples)
    evidence: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    tier_ev: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    for op, per in base.evidence.items():
        evidence[op].update(per)
    for op, per in base.tier_evidence.items():
        tier_ev[op].update(per)
    rows = np.array([[e.features.get(f, 0.0) for f in FEATURES] for e in exs], dtype=float)
    rows = rows.reshape(len(exs), len(FEATURES))
    ys = np.array([min(max(e.quality, 0.0), 1.0) for e in exs], dtype=float)
    for e, q in zip(exs, ys, strict=True):
        _merge_counts(evidence, e.operation, e.model, float(q))
        _merge_counts(tier_ev, e.operation, e.tier, float(q))

    # per-operation feature centres (each item counted once per model row: fine for means)
    op_means: dict[str, tuple[tuple[float, ...], int]] = dict(base.op_feature_mean)
    by_op: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(exs):
        by_op[e.operation].append(i)
    for op, idx in by_op.items():
        new_mean, new_n = rows[idx].mean(axis=0), len(idx)
        if op in op_means:
            old, old_n = op_means[op]
            merged = (np.array(old) * old_n + new_mean * new_n) / (old_n + new_n)
            op_means[op] = (tuple(float(v) for v in merged), old_n + new_n)
        else:
            op_means[op] = (tuple(float(v) for v in new_mean), new_n)

    if base.feature_scale:
        mean, scale = np.array(base.feature_mean), np.array(base.feature_scale)
    elif len(exs) > 1:
        mean, scale = rows.mean(axis=0), rows.std(axis=0)
        scale = np.where(scale > 1e-6, scale, 1.0)
    else:
        mean, scale = np.zeros(len(FEATURES)), np.ones(len(FEATURES))

    weights = dict(base.weights)
    by_model: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(exs):
        by_model[e.model].append(i)
    for m, idx in sorted(by_model.items()):
        y = ys[idx]
        if len(idx) < MIN_EXAMPLES or float(y.std()) < 1e-6:
            continue
        centres = np.array([op_means[exs[i].operation][0] for i in idx])
        x = (rows[idx] - centres) / scale
        offset = np.array(
            [
                logit(
                    (evidence[exs[i].operation][m][0] + 1.0)
                    / (evidence[exs[i].operation][m][1] + 2.0)
                )
                for i in idx
            ]
        )
        prev = base.weights.get(m)
        centre = np.array(prev.coef) if prev is not None else None
        w, lam, gain = fit_logistic(x, y, offset, centre=centre, seed=seed)
        if gain > 0.0:
            weights[m] = ModelWeights(tuple(float(v) for v in w), lam, len(idx), gain)

    fitted = Policy(
        evidence={k: dict(v) for k, v in evidence.items()},
        tier_evidence={k: dict(v) for k, v in tier_ev.items()},
        weights=weights,
        feature_mean=tuple(float(v) for v in mean),
        feature_scale=tuple(float(v) for v in scale),
        op_feature_mean=op_means,
        models={**base.models, **{k: str(v) for k, v in models.items()}},
        prior_strength=base.prior_strength,
        meta={
            "examples": len(exs),
            "seed": seed,
            "tiers": list(TIERS),
        },
    )
    parent = prior.version if prior is not None else None
    return fitted.stamped(parent=parent, created_at=created_at)
