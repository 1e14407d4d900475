"""Built-in priors: what the router believes before it has seen a single trace.

Two ingredients, both documented in ``docs/routing.md``:

1. **Operation family x model class -> prior success.** An operation name is matched to a
   family by its tokens (``write-code`` -> ``code``, ``migrate-db`` -> ``migration``);
   a model is ``local`` class (free per call: open-weight models served on own hardware,
   queued or not) or ``api`` class (priced frontier APIs, real-time or batch). Small local
   models are good at drafting, summarizing, translation and extraction and weak at code,
   math, migrations and security; API models are strong everywhere. ``unknown`` gets a
   pessimistic local prior so it goes up a tier unless the evidence says otherwise.
2. **Feature adjustments (logit shifts)** used when the policy has no learned weights for
   a model: complexity, the five failure-mode scores and a long context lower the
   predicted success, much more for local models than for API models.

Priors carry :data:`PRIOR_STRENGTH` pseudo-observations, so a few dozen traces outweigh
them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from switchtower.protocols import ModelInfo
from switchtower.route.features import FEATURES
from switchtower.types import UNKNOWN

__all__ = [
    "FAMILIES",
    "PRIOR_STRENGTH",
    "Family",
    "ModelClass",
    "api_strength_shift",
    "family_of",
    "model_class",
    "prior_adjustment",
    "prior_success",
]

ModelClass = Literal["local", "api"]

#: pseudo-observations behind a built-in prior (Beta alpha + beta)
PRIOR_STRENGTH = 8.0


@dataclass(frozen=True, slots=True)
class Family:
    """An operation family: keyword prefixes of its name tokens and prior success."""

    name: str
    keywords: tuple[str, ...]
    local: float
    api: float


#: matched in order: the riskiest families first (``write-migration`` is a migration)
FAMILIES: tuple[Family, ...] = (
    Family(
        "migration", ("migrat", "deploy", "infra", "schema", "database", "db", "prod"), 0.35, 0.88
    ),
    Family(
        "security",
        ("secur", "auth", "vuln", "secret", "crypt", "permission", "exploit"),
        0.40,
        0.88,
    ),
    Family("math", ("math", "calcul", "arith", "solve", "proof", "equation"), 0.50, 0.90),
    Family(
        "code",
        (
            "code",
            "coding",
            "refactor",
            "debug",
            "implement",
            "program",
            "test",
            "bug",
            "fix",
            "sql",
        ),
        0.55,
        0.90,
    ),
    Family("reasoning", ("reason", "plan", "analy", "logic", "decide"), 0.60, 0.90),
    Family("translation", ("translat", "locali"), 0.85, 0.95),
    Family("summarization", ("summar", "tldr", "digest", "condense"), 0.85, 0.95),
    Family(
        "extraction",
        ("extract", "classif", "tag", "label", "parse", "format", "convert"),
        0.85,
        0.95,
    ),
    Family(
        "drafting",
        ("draft", "reply", "rewrite", "email", "message", "paraphrase", "chat"),
        0.85,
        0.95,
    ),
    Family("writing", ("writ", "roleplay", "creative", "story", "poem", "blog"), 0.75, 0.93),
    Family(
        "question",
        ("question", "answer", "qa", "lookup", "explain", "stem", "humanit", "fact"),
        0.75,
        0.93,
    ),
)
#: any other declared operation
GENERIC = Family("generic", (), 0.70, 0.92)
#: the classifier did not know: pessimistic for local models
UNKNOWN_FAMILY = Family("unknown", (), 0.45, 0.88)

_TOKEN = re.compile(r"[a-z0-9]+")


def family_of(operation: str) -> Family:
    """The family whose keyword prefixes one of the operation name's tokens."""
    if operation == UNKNOWN:
        return UNKNOWN_FAMILY
    tokens = _TOKEN.findall(operation.lower())
    for fam in FAMILIES:
        for tok in tokens:
            if any(tok.startswith(k) for k in fam.keywords):
                return fam
    return GENERIC


def model_class(info: ModelInfo) -> ModelClass:
    """``local`` for free-per-call models (own hardware), ``api`` for priced ones."""
    if info.provider == "llamacpp" or (info.input_per_mtok == 0.0 and info.output_per_mtok == 0.0):
        return "local"
    return "api"


def _price(info: ModelInfo) -> float:
    price = info.input_per_mtok + 3.0 * info.output_per_mtok
    return price * 2.0 if info.batch else price  # a batch entry is the same model at half price


def api_strength_shift(info: ModelInfo, models: Mapping[str, ModelInfo]) -> float:
    """Logit shift for an API model by price relative to the other API models.

    With no evidence, a pricier API model is assumed a little more capable: +-0.4 logit
    across one decade of price around the median (batch entries count at full price).
    """
    prices = sorted(_price(m) for m in models.values() if model_class(m) == "api")
    mine = _price(info)
    if not prices or mine <= 0.0:
        return 0.0
    median = prices[len(prices) // 2]
    if median <= 0.0:
        return 0.0
    return max(-0.4, min(0.4, 0.4 * math.log10(mine / median)))


def prior_success(operation: str, cls: ModelClass) -> float:
    fam = family_of(operation)
    return fam.local if cls == "local" else fam.api


#: logit shift per unit of each feature, for (local, api) models without learned weights
_ADJUST: Mapping[str, tuple[float, float]] = {
    "complexity": (-2.0, -0.6),
    "missing_repo_context": (-1.0, -0.4),
    "long_dependency_chain": (-1.2, -0.4),
    "risky_migration": (-2.0, -0.5),
    "security_sensitive": (-1.5, -0.4),
    "high_consequence_write": (-2.0, -0.5),
}
#: complexity below this is easier than the family's typical request
_TYPICAL_COMPLEXITY = 0.3
#: contexts longer than this (tokens) start to hurt, per doubling
_LONG_CONTEXT = 2048.0
_CONTEXT_PER_DOUBLING = (-0.3, -0.05)
_LOG_LONG = math.log1p(_LONG_CONTEXT)
_LOG_CONTEXT = FEATURES.index("log_context")


def prior_adjustment(x: Sequence[float], cls: ModelClass) -> float:
    """The documented logit shift for one request's feature vector (no learned weights)."""
    i = 0 if cls == "local" else 1
    shift = 0.0
    for j, name in enumerate(FEATURES):
        coefs = _ADJUST.get(name)
        if coefs is None:
            continue
        value = x[j] - _TYPICAL_COMPLEXITY if name == "complexity" else x[j]
        shift += coefs[i] * value
    log_tokens = x[_LOG_CONTEXT]
    if log_tokens > _LOG_LONG:
        shift += _CONTEXT_PER_DOUBLING[i] * (log_tokens - _LOG_LONG) / math.log(2.0)
    return shift
