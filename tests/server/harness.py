"""Gateway test harness: a pipeline of tiny fake stages (registered through the real
registries) in front of real providers talking to the fake upstreams, and a live gateway
under uvicorn on a loopback port in a background thread."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from fakes.threaded import ThreadedServer
from switchtower.config.schema import Config
from switchtower.errors import NoEligibleModelError
from switchtower.pipeline import Pipeline
from switchtower.plugins import load_builtins
from switchtower.pricing import build_model_infos
from switchtower.protocols import TierInfo, TraceStore
from switchtower.queue import JobStore
from switchtower.registries import classifiers, routers, selectors, signal_extractors
from switchtower.registries import providers as provider_registry
from switchtower.server import GatewayApp, KeyStore, Limiter, create_app
from switchtower.tokens import estimate_message_tokens
from switchtower.types import (
    TIERS,
    Classification,
    Request,
    RouteDecision,
    Selection,
    Signal,
    Signals,
    Tier,
    tier_rank,
)

__all__ = ["LiveGateway", "build_pipeline", "gateway_config"]


class KeywordClassifier:
    """``code-edit`` when the prompt says "refactor", else ``summarize``."""

    def __init__(self, *, config: Config, **_: Any) -> None:
        self.config = config

    def classify(self, request: Request) -> Classification:
        op = "code-edit" if "refactor" in request.prompt.lower() else "summarize"
        return Classification(op, 0.9, backend="test", explanation=f"keyword -> {op}")


class PlainSignals:
    def __init__(self, *, config: Config, history: Any = None, **_: Any) -> None:
        self.config = config

    def extract(self, request: Request, classification: Classification) -> Signals:
        return Signals(
            complexity=Signal("complexity", 0.1),
            context_tokens=estimate_message_tokens(request.messages),
            deadline=request.deadline,
            failure_modes={},
            explanation="test signals",
        )


class OperationRouter:
    """code-edit -> realtime, anything else -> local; honours pinned and max tier."""

    def __init__(self, *, config: Config, **_: Any) -> None:
        self.config = config

    def route(
        self,
        classification: Classification,
        signals: Signals,
        tiers: Mapping[Tier, TierInfo],
        request: Request,
    ) -> RouteDecision:
        tier: Tier = "realtime" if classification.operation == "code-edit" else "local"
        if request.pinned_tier is not None:
            tier = request.pinned_tier
        elif request.max_tier is not None and tier_rank(tier) > tier_rank(request.max_tier):
            tier = request.max_tier
        info = tiers.get(tier)
        if info is None or not info.available:
            raise NoEligibleModelError(f"no available model in tier {tier}")
        return RouteDecision(
            tier=tier,
            predicted_success=dict.fromkeys(TIERS, 0.9),
            eligible=(tier,),
            rule="test",
            explanation=f"test router -> {tier}",
        )


class FirstModelSelector:
    """The first available model of the tier; the others are fallbacks."""

    def __init__(self, *, config: Config, **_: Any) -> None:
        self.config = config

    def select(
        self,
        classification: Classification,
        signals: Signals,
        route: RouteDecision,
        tiers: Mapping[Tier, TierInfo],
    ) -> Selection:
        names = [m.name for m in tiers[route.tier].models if m.available]
        return Selection(
            model=names[0],
            tier=route.tier,
            estimate=0.9,
            fallbacks=tuple(names[1:]),
            explanation="first available",
        )


def _register() -> None:
    for registry, name, factory in (
        (classifiers, "test-keyword", KeywordClassifier),
        (signal_extractors, "test-plain", PlainSignals),
        (routers, "test-operation", OperationRouter),
        (selectors, "test-first", FirstModelSelector),
    ):
        if name not in registry:
            registry.add(name, factory)  # type: ignore[arg-type]


def gateway_config(
    openai: FakeOpenAI,
    anthropic: FakeAnthropic | None = None,
    *,
    db: Path | None = None,
    redis_url: str | None = None,
    realtime_models: int = 2,
    batch: bool = False,
    queue: Mapping[str, Any] | None = None,
) -> Config:
    """Two operations; local: one model on the fake; realtime: fake models (+ fake claude).

    ``batch``: an async tier of an OpenAI batch entry, an Anthropic one (with
    ``anthropic``) and a queued (inline) model, in that order; ``queue`` sets
    ``config.queue``."""
    priced = {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "timeout_s": 5.0}
    realtime: list[dict[str, Any]] = [
        {"name": f"fake-frontier-{i}", "provider": "openai", "base_url": openai.base_url,
         "model": f"frontier-{i}", **priced}
        for i in range(realtime_models)
    ]  # fmt: skip
    if anthropic is not None:
        realtime.append(
            {"name": "fake-claude", "provider": "anthropic", "base_url": anthropic.base_url,
             "api_key_env": "FAKE_ANTHROPIC_KEY", "input_per_mtok": 3.0,
             "output_per_mtok": 15.0, "cache_read_per_mtok": 0.3,
             "cache_write_per_mtok": 3.75, "timeout_s": 5.0}
        )  # fmt: skip
    tiers: dict[str, Any] = {}
    if batch:
        entries: list[dict[str, Any]] = [
            {"name": "fake-batch", "provider": "openai", "base_url": openai.base_url,
             "model": "batch-model", "batch": True, "max_delay_s": 86400, **priced}
        ]  # fmt: skip
        if anthropic is not None:
            entries.append(
                {"name": "fake-claude-batch", "provider": "anthropic",
                 "base_url": anthropic.base_url, "api_key_env": "FAKE_ANTHROPIC_KEY",
                 "model": "claude-batch", "batch": True, "max_delay_s": 86400,
                 "input_per_mtok": 3.0, "output_per_mtok": 15.0, "timeout_s": 5.0}
            )  # fmt: skip
        entries.append(
            {"name": "fake-queued", "provider": "openai", "base_url": openai.base_url,
             "model": "queued-small", "max_delay_s": 60, **priced}
        )  # fmt: skip
        tiers["async"] = {"batch_discount": 0.5, "models": entries}
    return Config.model_validate(
        {
            "queue": dict(queue or {}),
            "operations": [
                {"name": "summarize", "examples": ["summarize this"]},
                {"name": "code-edit", "examples": ["refactor this"]},
            ],
            "tiers": {
                "local": {
                    "models": [
                        {
                            "name": "fake-local",
                            "provider": "openai",
                            "base_url": openai.base_url,
                            "model": "local-small",
                            "input_per_mtok": 0.0,
                            "output_per_mtok": 0.0,
                            "timeout_s": 5.0,
                        }
                    ]
                },
                "realtime": {"models": realtime},
                **tiers,
            },
            "classifier": {"name": "test-keyword"},
            "signals": {"name": "test-plain"},
            "router": {"name": "test-operation"},
            "selector": {"name": "test-first"},
            "retry": {"max_attempts": 1, "base_delay_s": 0.0},
            "storage": {
                "url": f"sqlite:///{db}" if db else "sqlite:///:memory:",
                "redis_url": redis_url,
            },
        }
    )


def build_pipeline(
    config: Config, store: TraceStore | None, jobs: JobStore | None = None
) -> Pipeline:
    """The real Pipeline with the fake stages, built through the registries."""
    load_builtins_safely()
    _register()
    names = {m.provider for t in config.tiers.values() for m in t.models}
    chosen = {n: provider_registry.create(n, config=config) for n in sorted(names)}
    return Pipeline(
        config,
        classifier=classifiers.create(config.classifier.name, config=config),
        signals=signal_extractors.create(config.signals.name, config=config, history=None),
        router=routers.create(config.router.name, config=config),
        selector=selectors.create(config.selector.name, config=config),
        providers=chosen,
        tiers=build_model_infos(config, chosen),
        store=store,
        jobs=jobs,
    )


def load_builtins_safely() -> None:
    try:
        load_builtins()
    except ImportError:  # another stage's built-ins not there yet: providers still are
        import switchtower.providers.builtin  # noqa: F401


class LiveGateway:
    """create_app + uvicorn in a thread with its own event loop, on 127.0.0.1:<free>."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        keys: KeyStore | None = None,
        limiter: Limiter | None = None,
        key_cache_ttl_s: float = 0.0,
    ) -> None:
        self.pipeline = pipeline
        self.app: GatewayApp = create_app(
            pipeline, keys=keys, limiter=limiter, key_cache_ttl_s=key_cache_ttl_s
        )
        self._server: ThreadedServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveGateway:
        self._server = ThreadedServer(
            self.app, lifespan="on", graceful_s=2, after=self.pipeline.aclose, name="gateway"
        )
        self.port = self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=10)
        self._server = None

    def __enter__(self) -> LiveGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
