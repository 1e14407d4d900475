"""The typed, validated configuration object (file, then environment, then flags)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from switchtower.types import FAILURE_MODES, Capability, Tier

__all__ = [
    "CacheConfig",
    "ClassifierConfig",
    "ComponentConfig",
    "Config",
    "ExperimentConfig",
    "GuardRule",
    "ModelConfig",
    "OperationConfig",
    "QueueConfig",
    "RetryConfig",
    "RouterConfig",
    "ScoringConfig",
    "SelectorConfig",
    "ServerConfig",
    "StorageConfig",
    "TierConfig",
    "VerifyConfig",
    "WebhookConfig",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OperationConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str = ""
    examples: tuple[str, ...] = ()
    #: guard: never route this operation below this tier
    min_tier: Tier | None = None
    #: selector confidence threshold for this operation (overrides the global one)
    confidence_threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class ComponentConfig(_Strict):
    """A component named by its registry name plus keyword options."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class ModelConfig(_Strict):
    name: str = Field(min_length=1)
    #: registry name of the provider: openai, anthropic, llamacpp, ...
    provider: str
    #: model id sent upstream (defaults to ``name``)
    model: str | None = None
    base_url: str | None = None
    #: environment variable holding the API key (secrets only come from the environment)
    api_key_env: str | None = None
    context_window: int = Field(default=8192, gt=0)
    #: what the model takes (``tools``, ``vision``, ``documents``): ``auto`` sends a
    #: request with tools, images or PDFs only to models that take them. None: the
    #: provider's default (Anthropic and OpenAI's own API: all three; other
    #: OpenAI-compatible servers and llama.cpp: tools only)
    capabilities: tuple[Capability, ...] | None = None
    #: USD per million tokens; ``None`` looks the model up in the price library
    input_per_mtok: float | None = Field(default=None, ge=0.0)
    output_per_mtok: float | None = Field(default=None, ge=0.0)
    #: USD per million prompt tokens read from / written to the provider's prompt cache
    #: (a 5-minute write; Anthropic's 1-hour writes cost more); ``None``: the price
    #: library's ratio to the input price, else see docs/gateway.md#prompt-caching
    cache_read_per_mtok: float | None = Field(default=None, ge=0.0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0.0)
    cache_write_1h_per_mtok: float | None = Field(default=None, ge=0.0)
    #: this entry is served through the provider's batch API (async tier)
    batch: bool = False
    #: expected seconds until a result (batch APIs: hours; queued local work: seconds)
    max_delay_s: float = Field(default=0.0, ge=0.0)
    timeout_s: float = Field(default=60.0, gt=0.0)
    options: dict[str, Any] = Field(default_factory=dict)
    #: ask the model's server how much work it has before queued work takes it
    #: (``llamacpp``: llama-server's ``/slots``; ``vllm``: vLLM's ``/metrics``; a name
    #: alone or ``{name, options}``; docs/queue.md). None: only this process's own calls
    load_probe: ComponentConfig | None = None

    @field_validator("capabilities", mode="before")
    @classmethod
    def _capability_list(cls, value: object) -> object:
        if value is not None and (
            not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value)
        ):
            raise ValueError("must be a list of what the model takes: tools, vision, documents")
        return tuple(dict.fromkeys(value)) if value is not None else None

    @field_validator("load_probe", mode="before")
    @classmethod
    def _probe_by_name(cls, value: object) -> object:
        return {"name": value} if isinstance(value, str) else value

    @property
    def model_id(self) -> str:
        return self.model or self.name


class TierConfig(_Strict):
    models: tuple[ModelConfig, ...] = ()
    #: price multiplier for batch entries in this tier (OpenAI/Anthropic batch: 0.5)
    batch_discount: float = Field(default=0.5, gt=0.0, le=1.0)


class ClassifierConfig(ComponentConfig):
    name: str = "auto"
    #: where the trained artifact lives; trained from config examples when missing
    artifact: str | None = None


class GuardRule(_Strict):
    """Route requests whose ``signal`` scores at least ``min_score`` no lower than ``min_tier``."""

    signal: str
    min_score: float = Field(default=0.5, ge=0.0, le=1.0)
    min_tier: Tier

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, v: str) -> str:
        if v not in FAILURE_MODES and v != "complexity":
            raise ValueError(f"unknown signal {v!r}; known: {', '.join(FAILURE_MODES)}")
        return v


class RouterConfig(ComponentConfig):
    name: str = "policy"
    #: minimum predicted success for a tier to be chosen
    success_threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    #: what one successful answer is worth, in USD. Unset (the default): the threshold
    #: rule, the cheapest tier whose predicted success clears ``success_threshold``.
    #: Set: the value rule, the eligible model with the highest
    #: ``value_per_success_usd * predicted success - estimated cost``.
    value_per_success_usd: float | None = Field(default=None, gt=0.0)
    #: under the threshold rule, when no tier (router) or model (selector) clears it:
    #: the highest ``value * predicted success - estimated cost``, a success being worth
    #: this many calls of the request's reference model (the priciest configured model,
    #: at this request's tokens). Unset: the highest prediction, whatever it costs.
    fallback_value_calls: float | None = Field(default=20.0, gt=0.0)
    guards: tuple[GuardRule, ...] = ()
    #: the versioned policy artifact: written by the nightly loop (``switchtower learn``),
    #: read by the router and the selector; a missing file means the built-in priors.
    #: Relative to the working directory, like the default database. None: priors only
    policy: str | None = "switchtower-policy.json"


class ExperimentConfig(_Strict):
    """Split one operation's traffic between models at set shares."""

    name: str
    operation: str
    arms: dict[str, float]

    @model_validator(mode="after")
    def _shares(self) -> ExperimentConfig:
        total = sum(self.arms.values())
        if not self.arms or any(v < 0 for v in self.arms.values()) or abs(total - 1.0) > 1e-6:
            raise ValueError(f"arms shares must be >= 0 and sum to 1 (got {total})")
        return self


class SelectorConfig(ComponentConfig):
    name: str = "beta"
    confidence_threshold: float = Field(default=0.7, ge=0.0, le=1.0)
    #: share of traffic that may try a cheaper, unproven model
    exploration: float = Field(default=0.05, ge=0.0, le=0.5)
    experiments: tuple[ExperimentConfig, ...] = ()


class VerifyConfig(_Strict):
    """Second opinions: a cheap answer is checked against another cheap model's.

    For the listed operations, when the selector picks a model of one of ``tiers`` and a
    higher tier can serve the request, ``second_opinions`` other models of that tier
    answer the same request in parallel. Same final answer: the cheap answer stands.
    Another: the request goes to the strongest eligible model of a higher tier (under
    the value rule: only to models worth their price against the cheap model's
    estimate). Only answers with a comparable final answer count (``verify/answers.py``), so the
    default operations are the short-answer ones.
    """

    #: other models of the same tier asked in parallel (0 turns checking off)
    second_opinions: int = Field(default=1, ge=0, le=4)
    operations: tuple[str, ...] = ("answer-question", "solve-math")
    #: tiers whose answers are checked (checks cost a call of the same tier)
    tiers: tuple[Tier, ...] = ("local",)
    #: ask the peers while the chosen model answers (no added wait, a peer call for every
    #: planned check); by default they are asked after it, only when its answer commits
    #: to a final answer that can be compared
    parallel: bool = False


class ScoringConfig(_Strict):
    """Outcomes judged without feedback (``scoring/``, docs/nightly.md): each answer is
    given to the ``scorers`` in order; the first failure found, else the first success,
    is stored as the trace's outcome (``source``: the scorer's name), which the router's
    history and the nightly loop learn from. Feedback given later replaces it."""

    #: registered scorer names with options; ``contract``: the answer keeps the form the
    #: request asked for (JSON mode, JSON schema, tool calls); ``second-opinion``: a
    #: second opinion's verdict on the answer. ``[]`` turns scoring off.
    scorers: tuple[ComponentConfig, ...] = (
        ComponentConfig(name="contract"),
        ComponentConfig(name="second-opinion"),
    )


class RetryConfig(_Strict):
    max_attempts: int = Field(default=3, ge=1, le=10)
    base_delay_s: float = Field(default=0.5, ge=0.0)
    max_delay_s: float = Field(default=8.0, ge=0.0)
    #: retryable failures in a row (429, 5xx, connect errors, timeouts) that take a model
    #: out of routing for a cool-down (``health.py``); 0: never
    circuit_failures: int = Field(default=3, ge=0)
    #: the first cool-down; it doubles while the model keeps failing, up to the maximum
    circuit_cooldown_s: float = Field(default=30.0, gt=0.0)
    circuit_max_cooldown_s: float = Field(default=300.0, gt=0.0)


class StorageConfig(_Strict):
    #: SQLAlchemy URL: sqlite:///path (default) or postgresql+psycopg://...
    url: str = "sqlite:///switchtower.db"
    #: keep raw prompts in traces (off by default: only a digest is kept)
    store_prompts: bool = False
    #: Redis URL for shared state across gateway replicas (budgets, rate limits)
    redis_url: str | None = None
    #: where per-key rate limits and budgets are counted: ``redis`` (needs ``redis_url``),
    #: ``sql`` (the database of ``url``, shared by every replica or worker using it),
    #: ``memory`` (this process only) or ``auto``: redis when ``redis_url`` is set, else
    #: sql on a server database (PostgreSQL), else memory (one embedded SQLite gateway;
    #: ``switchtower serve --workers N`` switches it to sql)
    limiter: Literal["auto", "memory", "sql", "redis"] = "auto"
    #: the router's trace history (success per operation and tier / model) counts only
    #: outcomes of traces from the last this many days, so old failures age out and a
    #: changed model is judged anew; None: all of them
    history_days: float | None = Field(default=None, gt=0.0)


class CacheConfig(_Strict):
    """The response cache (``cache/``, docs/cache.md): identical deterministic requests
    are answered from a stored answer, free, and traced as cache hits."""

    #: ``auto``: ``redis`` when ``storage.redis_url`` is set, else ``memory``; or a
    #: registered cache name
    name: str = "auto"
    options: dict[str, Any] = Field(default_factory=dict)
    #: ``deterministic``: requests with ``temperature: 0`` (or the client's cache hint);
    #: ``always``: every non-streamed single-choice request; ``never``: off
    when: Literal["deterministic", "always", "never"] = "deterministic"
    ttl_s: float = Field(default=3600.0, gt=0.0)
    #: ``key``: answers are shared only among requests with the same API key
    scope: Literal["key", "global"] = "key"


class WebhookConfig(_Strict):
    """Webhooks for jobs (``queue/webhooks.py``, docs/queue.md): a deferred request may
    name a URL that is told, in a signed POST, when its job finishes."""

    #: the URLs a request may name: each entry is a scheme, host and port that must match
    #: exactly, and a path the webhook's path must start with. Empty: webhooks are off
    allow: tuple[str, ...] = ()
    #: the environment variable holding the signing secret (``whsec_<base64>``, as the
    #: Standard Webhooks scheme and the official SDKs' verifiers take it)
    secret_env: str = "SWITCHTOWER_WEBHOOK_SECRET"
    timeout_s: float = Field(default=10.0, gt=0.0, le=120.0)
    #: deliveries of one event before giving up (backing off 5 s, 20 s, 80 s, ... 6 h)
    max_attempts: int = Field(default=8, ge=1, le=20)

    @field_validator("allow")
    @classmethod
    def _urls(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for url in v:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http(s) URL with a host")
            if parts.query or parts.fragment or parts.username or parts.password:
                raise ValueError(f"{url!r}: give a scheme, host, port and path only")
        return v


class QueueConfig(_Strict):
    """The job queue for provider batch APIs and queued work (``queue/``, docs/queue.md).

    A request routed to a batch entry becomes a job, as does a request that accepts a
    deferred answer routed to a queued entry (it runs when the hardware is idle). Jobs for
    one batch model wait up to ``linger_s`` (or until ``max_batch`` are queued) and go out
    as one provider batch; submitted batches are polled every ``poll_s``. A job not
    answered ``rescue_margin_s`` before its deadline is answered now (real time), so no
    deadline is missed while a model can answer.
    """

    #: run the queue worker inside ``switchtower serve`` (each worker process runs one;
    #: claims are safe across processes and replicas). Off: run ``switchtower worker``.
    worker: bool = True
    linger_s: float = Field(default=60.0, ge=0.0)
    max_batch: int = Field(default=1000, ge=1, le=50_000)
    poll_s: float = Field(default=30.0, gt=0.0)
    rescue_margin_s: float = Field(default=900.0, ge=0.0)
    #: a worker that claimed jobs and died releases them after this long
    lease_s: float = Field(default=300.0, gt=0.0)
    #: queued work (a deferred request routed to a queued entry, e.g. a local model):
    #: jobs a worker runs at once per endpoint. It starts one only while no other call
    #: is in flight on that endpoint in its process, i.e. while the hardware is idle
    queued_concurrency: int = Field(default=1, ge=1, le=64)
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)


class Config(_Strict):
    version: Literal[1] = 1
    operations: tuple[OperationConfig, ...] = ()
    tiers: dict[Tier, TierConfig] = Field(default_factory=dict)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    signals: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="heuristic"))
    router: RouterConfig = Field(default_factory=RouterConfig)
    selector: SelectorConfig = Field(default_factory=SelectorConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        names = [o.name for o in self.operations]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"operations: duplicate names {sorted(dup)}")
        models = [m.name for t in self.tiers.values() for m in t.models]
        dupm = {n for n in models if models.count(n) > 1}
        if dupm:
            raise ValueError(f"tiers: duplicate model names {sorted(dupm)}")
        for exp in self.selector.experiments:
            if exp.operation not in names:
                raise ValueError(
                    f"selector.experiments[{exp.name}]: unknown operation {exp.operation!r}"
                )
            for arm in exp.arms:
                if arm not in models:
                    raise ValueError(f"selector.experiments[{exp.name}]: unknown model {arm!r}")
        return self

    def model(self, name: str) -> tuple[Tier, ModelConfig]:
        for tier, tc in self.tiers.items():
            for m in tc.models:
                if m.name == name:
                    return tier, m
        from switchtower.errors import UnknownModelError

        raise UnknownModelError(
            f"unknown model {name!r}; configured: {', '.join(self.model_names())}"
        )

    def model_names(self) -> list[str]:
        return [m.name for t in self.tiers.values() for m in t.models]

    def operation(self, name: str) -> OperationConfig:
        for o in self.operations:
            if o.name == name:
                return o
        from switchtower.errors import UnknownOperationError

        known = ", ".join(o.name for o in self.operations)
        raise UnknownOperationError(f"unknown operation {name!r}; configured: {known}")
