"""The stage interfaces. Each is a small Protocol; built-ins and plugins implement them.

``request -> classify -> signals -> route -> select -> execute -> trace``
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from switchtower.config.schema import ModelConfig
from switchtower.types import (
    CAPABILITIES,
    BatchPoll,
    Capability,
    Classification,
    Completion,
    Outcome,
    Request,
    RouteDecision,
    Selection,
    Signals,
    Tier,
    Trace,
    Usage,
)

__all__ = [
    "BatchProvider",
    "Classifier",
    "HistorySource",
    "LoadProbe",
    "ModelInfo",
    "OutcomeScorer",
    "Provider",
    "ResponseCache",
    "Router",
    "Selector",
    "SignalExtractor",
    "TierInfo",
    "TokenCounter",
    "TraceStore",
]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What routing and selection know about one configured model."""

    name: str
    tier: Tier
    provider: str
    model_id: str
    context_window: int
    input_per_mtok: float
    output_per_mtok: float
    available: bool = True
    unavailable_reason: str | None = None
    #: expected seconds until a result arrives (0 for interactive models; batch APIs
    #: take minutes to hours)
    max_delay_s: float = 0.0
    batch: bool = False
    #: the model's full configuration (endpoint, key variable, timeout, options)
    spec: ModelConfig | None = None
    #: USD per million prompt tokens read from / written to the provider's prompt cache
    #: (``None``: the input price)
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None
    cache_write_1h_per_mtok: float | None = None
    #: what the model takes (``route/capabilities.py``): a request needing more skips it
    capabilities: frozenset[Capability] = frozenset(CAPABILITIES)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """An estimate: every prompt token at the input price."""
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6

    def usage_cost(self, usage: Usage) -> float:
        """What an answer with ``usage`` cost: prompt-cache reads and writes at their
        own prices, the rest of the prompt at the input price."""
        return usage.priced(
            self.input_per_mtok,
            self.output_per_mtok,
            self.cache_read_per_mtok,
            self.cache_write_per_mtok,
            self.cache_write_1h_per_mtok,
        )

    @property
    def endpoint(self) -> tuple[str, str | None, str]:
        """What serves this entry: (provider, base URL, upstream model id). Entries that
        share it (a local model and its queued twin) share the same hardware."""
        return (self.provider, self.spec.base_url if self.spec is not None else None, self.model_id)


@dataclass(frozen=True, slots=True)
class TierInfo:
    """One tier as the router sees it: its models, and whether any can serve now."""

    tier: Tier
    models: tuple[ModelInfo, ...]

    @property
    def available(self) -> bool:
        return any(m.available for m in self.models)

    @property
    def min_delay_s(self) -> float:
        delays = [m.max_delay_s for m in self.models if m.available]
        return min(delays) if delays else float("inf")


@runtime_checkable
class Classifier(Protocol):
    """Raw request -> operation label with a calibrated confidence (or ``unknown``)."""

    def classify(self, request: Request) -> Classification: ...


@runtime_checkable
class HistorySource(Protocol):
    """Success counts from traces: tier -> (successes, trials), model -> (s, n)."""

    def success_counts(
        self, operation: str
    ) -> tuple[Mapping[str, tuple[float, float]], Mapping[str, tuple[float, float]]]: ...


@runtime_checkable
class SignalExtractor(Protocol):
    """Request + classification -> the features the router reads."""

    def extract(self, request: Request, classification: Classification) -> Signals: ...


@runtime_checkable
class Router(Protocol):
    """Label + features -> tier. It never reads the prompt."""

    def route(
        self,
        classification: Classification,
        signals: Signals,
        tiers: Mapping[Tier, TierInfo],
        request: Request,
    ) -> RouteDecision: ...


@runtime_checkable
class Selector(Protocol):
    """The cheapest model in the tier whose predicted success clears the threshold."""

    def select(
        self,
        classification: Classification,
        signals: Signals,
        route: RouteDecision,
        tiers: Mapping[Tier, TierInfo],
    ) -> Selection: ...


@runtime_checkable
class Provider(Protocol):
    """An authenticated client for one upstream API family (one call, no retries)."""

    name: str

    async def complete(self, model: ModelInfo, request: Request) -> Completion: ...

    def stream(self, model: ModelInfo, request: Request) -> AsyncIterator[Mapping[str, Any]]:
        """OpenAI ``chat.completion.chunk`` dicts; the last one carries ``usage``."""
        ...

    def unavailable_reason(self, spec: ModelConfig) -> str | None:
        """Why this model cannot be called here (no key, no runtime), or ``None``."""
        ...

    # Optional: ``capabilities(spec) -> Iterable[Capability]``, what a model of this kind
    # takes when its config entry does not say (``route/capabilities.py``); a provider
    # without it is taken to serve every capability.

    async def aclose(self) -> None: ...


@runtime_checkable
class LoadProbe(Protocol):
    """How many requests a model's server is working on or holding (all clients'), or
    None when it cannot tell (``queue/probes.py``)."""

    async def load(self, model: ModelInfo) -> int | None: ...


@runtime_checkable
class OutcomeScorer(Protocol):
    """An answer -> its outcome, judged without feedback (``scoring/``), or None when
    this scorer cannot tell. Runs on the request path after the answer: keep it cheap."""

    def score(self, request: Request, completion: Completion) -> Outcome | None: ...


@runtime_checkable
class ResponseCache(Protocol):
    """Answers by key for a time (``cache/``); failures are the caller's to absorb."""

    name: str

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def put(self, key: str, value: Mapping[str, Any], ttl_s: float) -> None: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class TokenCounter(Protocol):
    """A provider that can count a prompt's tokens exactly, as its model bills them
    (Anthropic's free ``count_tokens``), without running the model."""

    async def count_tokens(self, model: ModelInfo, request: Request) -> int: ...


@runtime_checkable
class BatchProvider(Protocol):
    """A provider that can also submit many requests to a provider batch API (about half
    price, answers within a window such as 24 h). The job queue (``queue/``) uses it for
    models configured with ``batch: true``; ``custom_id`` is the job id."""

    async def submit_batch(self, model: ModelInfo, items: Sequence[tuple[str, Request]]) -> str:
        """Submit ``(custom_id, request)`` pairs as one batch; returns the batch id."""
        ...

    async def poll_batch(self, model: ModelInfo, batch_id: str) -> BatchPoll: ...

    async def cancel_batch(self, model: ModelInfo, batch_id: str) -> None:
        """Ask the provider to stop a batch whose answers are no longer needed."""
        ...


class TraceStore(Protocol):
    """Durable trace storage. Implementations live in ``switchtower.store``."""

    def write(self, trace: Trace) -> None: ...

    def get(self, trace_id: str) -> Trace | None: ...

    def recent(self, limit: int = 20) -> Sequence[Trace]: ...

    def record_outcome(self, trace_id: str, outcome: Outcome) -> bool: ...
