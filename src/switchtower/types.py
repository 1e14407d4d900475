"""Typed, frozen values passed between pipeline stages.

``request -> classify -> signals -> route -> select -> execute -> trace``

Each stage returns one of these values, and each carries an ``explanation`` so that a
decision can always say why this operation, why this tier, why this model.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = [
    "CAPABILITIES",
    "DEADLINES",
    "DEADLINE_SECONDS",
    "FAILURE_MODES",
    "TIERS",
    "UNKNOWN",
    "Attempt",
    "BatchItemResult",
    "BatchPoll",
    "Capability",
    "Classification",
    "Completion",
    "Deadline",
    "Decision",
    "FailureMode",
    "Outcome",
    "Request",
    "RouteDecision",
    "RunResult",
    "Selection",
    "Signal",
    "Signals",
    "Tier",
    "Trace",
    "Usage",
    "Verification",
    "message_text",
    "tier_rank",
]

Tier = Literal["local", "async", "realtime"]
#: tiers from cheapest to most expensive
TIERS: tuple[Tier, ...] = get_args(Tier)

Deadline = Literal["interactive", "soon", "batch"]
DEADLINES: tuple[Deadline, ...] = get_args(Deadline)
#: how long each deadline class may wait for an answer
DEADLINE_SECONDS: Mapping[Deadline, float] = {
    "interactive": 10.0,
    "soon": 300.0,
    "batch": 86_400.0,
}

#: what a request may need a model to take: tool definitions, images, PDF documents
Capability = Literal["tools", "vision", "documents"]
CAPABILITIES: tuple[Capability, ...] = get_args(Capability)

FailureMode = Literal[
    "missing_repo_context",
    "long_dependency_chain",
    "risky_migration",
    "security_sensitive",
    "high_consequence_write",
]
FAILURE_MODES: tuple[FailureMode, ...] = get_args(FailureMode)

#: the operation label a classifier returns when it does not know
UNKNOWN = "unknown"


def tier_rank(tier: Tier) -> int:
    """0 for local, 1 for async, 2 for realtime."""
    return TIERS.index(tier)


def message_text(message: Mapping[str, Any]) -> str:
    """The plain text of one OpenAI-style chat message (string or list of parts)."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return str(content)


@dataclass(frozen=True, slots=True)
class Request:
    """One request to route, in OpenAI chat format.

    ``messages`` are OpenAI-style message dicts (passed through to OpenAI-compatible
    upstreams unchanged). ``params`` holds pass-through generation parameters such as
    ``temperature``, ``max_tokens``, ``tools``, ``tool_choice``, ``response_format``.
    The routing hints (``operation``, ``deadline``, ``max_tier``, ``pinned_tier``,
    ``max_cost_usd``) come from the client.
    """

    messages: tuple[Mapping[str, Any], ...]
    deadline: Deadline = "interactive"
    operation: str | None = None
    pinned_tier: Tier | None = None
    max_tier: Tier | None = None
    max_cost_usd: float | None = None
    #: what one successful answer to this request is worth (USD): the router's value
    #: rule for this request, over ``router.value_per_success_usd``
    value_per_success_usd: float | None = None
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    #: the client takes a job handle instead of an answer (HTTP 202, ``Pipeline.submit``):
    #: only then may a provider batch API (the async tier's batch entries) serve it
    accept_deferred: bool = False
    #: the client's cache hint: True answers from the response cache even when not
    #: deterministic, False never (None: ``cache.when`` decides)
    cache: bool | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    received_at: float = field(default_factory=time.time)

    @classmethod
    def from_text(cls, text: str, **kwargs: Any) -> Request:
        return cls(messages=({"role": "user", "content": text},), **kwargs)

    @property
    def text(self) -> str:
        """All message text, in order (system, user, assistant, tool), joined by newlines."""
        return "\n".join(t for t in (message_text(m) for m in self.messages) if t)

    @property
    def prompt(self) -> str:
        """The text the classifier reads: the last user message, else all text."""
        for m in reversed(self.messages):
            if m.get("role") == "user":
                t = message_text(m)
                if t.strip():
                    return t
        return self.text

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON of the messages: stored instead of the prompt."""
        raw = json.dumps(list(self.messages), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Classification:
    """What operation the request is, how sure, and the runners-up."""

    operation: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...] = ()
    backend: str = ""
    explanation: str = ""

    @property
    def is_unknown(self) -> bool:
        return self.operation == UNKNOWN


@dataclass(frozen=True, slots=True)
class Signal:
    """One feature with a score in [0, 1] and the evidence behind it."""

    name: str
    score: float
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything the router may read besides the operation label.

    ``history`` maps tier -> (successes, trials) for this operation from traces;
    ``model_history`` maps model name -> (successes, trials).
    """

    complexity: Signal
    context_tokens: int
    deadline: Deadline
    failure_modes: Mapping[str, Signal]
    history: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    model_history: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    explanation: str = ""
    #: what the request needs a model to take (images, tools): the pipeline sets it
    #: (``route/capabilities.py``), so routers and selectors never read the prompt for it
    needs: frozenset[Capability] = frozenset()

    def score(self, name: str) -> float:
        sig = self.failure_modes.get(name)
        return sig.score if sig is not None else 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            name: {"score": round(s.score, 4), "evidence": list(s.evidence)}
            for name, s in self.failure_modes.items()
        }
        return out


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The tier chosen, the predicted success of each tier, and why."""

    tier: Tier
    predicted_success: Mapping[str, float]
    eligible: tuple[Tier, ...]
    policy_version: str = ""
    rule: str | None = None
    explanation: str = ""
    #: the routed request's id (the selector hashes it for experiment arms/exploration)
    request_id: str = ""
    #: tier -> models that can serve this request (availability, deadline, context,
    #: cost cap), cheapest first; empty when the router does not say
    candidates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: the value of a success the value rule decided with; None: the threshold rule
    value_per_success_usd: float | None = None
    #: the output tokens the router priced the request at (``min(max_tokens, default)``),
    #: so the selector prices it alike; None: the selector's own default
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    """The model chosen within the tier, plus ordered fallbacks."""

    model: str
    tier: Tier
    estimate: float
    fallbacks: tuple[str, ...] = ()
    explored: bool = False
    experiment: str | None = None
    arm: str | None = None
    explanation: str = ""
    #: other models of the chosen tier asked the same request as a check; when one's
    #: final answer differs from the chosen model's, ``escalation`` answers (``verify/``)
    second_opinions: tuple[str, ...] = ()
    #: models tried in order when the second opinions disagree
    escalation: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """The full routing plan for one request (a dry run stops here)."""

    request: Request
    classification: Classification
    signals: Signals
    route: RouteDecision
    selection: Selection
    overhead_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The shape of ``switchtower route --json`` and ``POST /v1/route``."""
        c, r, s = self.classification, self.route, self.selection
        return {
            "request_id": self.request.id,
            "operation": c.operation,
            "confidence": round(c.confidence, 4),
            "alternatives": [[op, round(p, 4)] for op, p in c.alternatives],
            "tier": r.tier,
            "model": s.model,
            "fallbacks": list(s.fallbacks),
            "second_opinions": list(s.second_opinions),
            "escalation": list(s.escalation),
            "deadline": self.signals.deadline,
            "context_tokens": self.signals.context_tokens,
            "complexity": round(self.signals.complexity.score, 4),
            "signals": self.signals.to_json(),
            "predicted_success": {k: round(v, 4) for k, v in r.predicted_success.items()},
            "policy_version": r.policy_version,
            "value_per_success_usd": r.value_per_success_usd,
            "experiment": s.experiment,
            "arm": s.arm,
            "explanation": {
                "operation": c.explanation,
                "signals": self.signals.explanation,
                "tier": r.explanation,
                "model": s.explanation,
            },
            "overhead_ms": round(self.overhead_ms, 3),
        }


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one answer. ``input_tokens`` counts the whole prompt; of it,
    ``cache_read_tokens`` came from the provider's prompt cache and
    ``cache_write_tokens`` were written to it, ``cache_write_1h_tokens`` of those for an
    hour (Anthropic's dearer writes); each is priced at its own rate."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        """The prompt tokens neither read from nor written to a prompt cache."""
        return max(0, self.input_tokens - self.cache_read_tokens - self.cache_write_tokens)

    def priced(
        self,
        input_per_mtok: float,
        output_per_mtok: float,
        cache_read_per_mtok: float | None = None,
        cache_write_per_mtok: float | None = None,
        cache_write_1h_per_mtok: float | None = None,
    ) -> float:
        """USD at these per-million prices; a cache price of ``None`` is the input price
        (a 1-hour write's: the write price)."""
        read = input_per_mtok if cache_read_per_mtok is None else cache_read_per_mtok
        write = input_per_mtok if cache_write_per_mtok is None else cache_write_per_mtok
        write_1h = write if cache_write_1h_per_mtok is None else cache_write_1h_per_mtok
        hour = min(self.cache_write_1h_tokens, self.cache_write_tokens)
        return (
            self.uncached_input_tokens * input_per_mtok
            + self.cache_read_tokens * read
            + (self.cache_write_tokens - hour) * write
            + hour * write_1h
            + self.output_tokens * output_per_mtok
        ) / 1e6


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call to one model (retries of the same model are separate attempts)."""

    model: str
    provider: str
    tier: Tier
    started_at: float
    latency_ms: float
    ok: bool
    error_kind: str | None = None
    error_message: str | None = None
    status: int | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer. ``raw`` is the upstream response as an OpenAI-format dict."""

    text: str
    model: str
    tier: Tier
    usage: Usage
    cost_usd: float
    finish_reason: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    attempts: tuple[Attempt, ...] = ()
    #: how the answer was checked against second opinions (None: it was not)
    verification: Verification | None = None
    #: answered from the response cache: the key it was stored under (cost 0)
    cached: str | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    """A cheap model's answer checked against other models' answers (``verify/``).

    ``verdict``: ``agree`` (a second opinion gave the same final answer and none another),
    ``disagree`` (one gave another: the request was escalated), ``unverified`` (no
    comparable answer came back: the cheap answer stands). ``sided_with``: after an
    escalation, whose final answer the escalated answer gave (``checked``: the cheap
    answer was right after all; ``peer``: the peer was), None when neither's.
    """

    verdict: Literal["agree", "disagree", "unverified"]
    checked: str
    peers: tuple[str, ...] = ()
    escalated_to: str | None = None
    detail: str = ""
    sided_with: Literal["checked", "peer"] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "checked": self.checked,
            "peers": list(self.peers),
            "escalated_to": self.escalated_to,
            "detail": self.detail,
            "sided_with": self.sided_with,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What later feedback or the nightly loop says about a trace."""

    success: bool | None = None
    score: float | None = None
    comment: str | None = None
    source: str = "feedback"
    #: when the store recorded it (epoch seconds; None until stored). Not part of the
    #: verdict: two outcomes that say the same are equal whenever they were recorded
    at: float | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class RunResult:
    """A routed and executed request: the plan, the answer and the trace id."""

    decision: Decision
    completion: Completion | None
    trace_id: str
    latency_ms: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Trace:
    """One request's full record: decision, every attempt, tokens, cost, latency.

    ``prompt`` is only kept when config says so (``storage.store_prompts``); the
    ``request_digest`` always is. ``outcome`` is filled later by feedback or the nightly
    loop.
    """

    id: str
    created_at: float
    request_digest: str
    operation: str
    confidence: float
    tier: Tier
    model: str
    deadline: Deadline
    signals: Mapping[str, float]
    decision: Mapping[str, Any]
    attempts: tuple[Attempt, ...] = ()
    status: Literal["ok", "error", "cancelled", "queued"] = "ok"
    error_kind: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    counterfactual_cost_usd: float = 0.0
    latency_ms: float = 0.0
    policy_version: str = ""
    experiment: str | None = None
    arm: str | None = None
    api_key_id: str | None = None
    prompt: str | None = None
    outcome: Outcome | None = None


@dataclass(frozen=True, slots=True)
class BatchItemResult:
    """One request's answer from a provider batch: a completion or an error."""

    custom_id: str
    completion: Completion | None = None
    error_kind: str | None = None
    error_message: str | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class BatchPoll:
    """A provider batch's state: ``ended`` with every answer it holds, or still pending.

    ``detail`` is the provider's own status word (``in_progress``, ``expired``, ...).
    Requests of an ended batch missing from ``results`` got no answer.
    """

    batch_id: str
    ended: bool
    detail: str
    results: tuple[BatchItemResult, ...] = ()
