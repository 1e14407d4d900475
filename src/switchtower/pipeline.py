"""The pipeline: ``classify -> signals -> route -> select -> execute -> trace``.

Built once from a :class:`Config` and passed down (the CLI, the gateway and the benchmark
all use the same object). :meth:`Pipeline.plan` is the dry run; :meth:`Pipeline.run`
plans, executes and traces.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from switchtower.cache.keys import cache_key
from switchtower.config.schema import Config
from switchtower.errors import (
    AllModelsFailedError,
    ContextTooLargeError,
    EmptyPromptError,
    InvalidRequestError,
    NoEligibleModelError,
    SwitchtowerError,
    UnknownModelError,
    UnknownOperationError,
)
from switchtower.execute import Executor
from switchtower.plugins import load_builtins
from switchtower.pricing import build_model_infos
from switchtower.protocols import (
    BatchProvider,
    Classifier,
    HistorySource,
    ModelInfo,
    Provider,
    ResponseCache,
    Router,
    Selector,
    SignalExtractor,
    TierInfo,
    TraceStore,
)
from switchtower.registries import (
    caches,
    classifiers,
    routers,
    selectors,
    signal_extractors,
)
from switchtower.registries import (
    providers as provider_registry,
)
from switchtower.registry import config_key
from switchtower.route.capabilities import check_servable, required
from switchtower.route.pinned import pinned_route, refused_decision
from switchtower.store.codec import completion_from_json, completion_to_json
from switchtower.tracing import TraceRecorder, build_trace
from switchtower.types import (
    DEADLINE_SECONDS,
    UNKNOWN,
    Classification,
    Completion,
    Decision,
    Outcome,
    Request,
    RunResult,
    Tier,
)
from switchtower.verify.run import execute_checked

if TYPE_CHECKING:
    from switchtower.queue import Job, JobStore

__all__ = ["Pipeline"]

#: why a batch entry cannot serve when no job store was opened
NO_JOB_STORE = "a batch API needs the job queue: no job store (storage.url) is open"

log = logging.getLogger(__name__)


class Pipeline:
    """The stages, the executor and the trace recorder, wired from one Config."""

    def __init__(
        self,
        config: Config,
        *,
        classifier: Classifier,
        signals: SignalExtractor,
        router: Router,
        selector: Selector,
        providers: Mapping[str, Provider],
        tiers: Mapping[Tier, TierInfo],
        store: TraceStore | None,
        jobs: JobStore | None = None,
        cache: ResponseCache | None = None,
    ) -> None:
        self.config = config
        self.classifier = classifier
        self.signals = signals
        self.router = router
        self.selector = selector
        self.providers = dict(providers)
        #: providers that send batches (a runtime Protocol check is slow: done once)
        self._batching = frozenset(
            n for n, p in self.providers.items() if isinstance(p, BatchProvider)
        )
        #: deferred requests (batch entries); without it those entries cannot serve
        self.jobs = jobs
        #: identical deterministic requests answered from stored answers (None: off)
        self.cache = cache
        self.cache_errors = 0
        self._tiers = {t: self._batch_ready(info) for t, info in tiers.items()}
        # the same tiers with every model callable: what a dry run plans against, so
        # `switchtower route` shows the decision the configured tiers would make
        self._all_tiers: dict[Tier, TierInfo] = {
            t: replace(info, models=tuple(replace(m, available=True) for m in info.models))
            for t, info in self._tiers.items()
        }
        self._models: dict[str, ModelInfo] = {
            m.name: m for t in self._tiers.values() for m in t.models
        }
        self.store = store
        self.executor = Executor(self.providers, config.retry)
        self.recorder = TraceRecorder(config, store, self._frontier_model())
        self._operations = frozenset(o.name for o in config.operations)
        self._max_context = max((m.context_window for m in self._models.values()), default=0)

    # -- construction -----------------------------------------------------------------

    def _deferred_entry(self, m: ModelInfo) -> bool:
        """A batch entry whose provider sends batches: it answers through the job queue,
        never inline."""
        return m.batch and m.provider in self._batching

    @staticmethod
    def _queued_entry(m: ModelInfo) -> bool:
        """Queued work: an async-tier entry that answers inline (a local model with a
        ``max_delay_s``). A request that accepts a deferred answer and is routed to it
        becomes a job, which the queue worker runs when the model's hardware is idle."""
        return m.tier == "async" and not m.batch

    def _batch_ready(self, info: TierInfo) -> TierInfo:
        if self.jobs is not None:
            return info
        models = tuple(
            replace(m, available=False, unavailable_reason=NO_JOB_STORE)
            if m.available and self._deferred_entry(m)
            else m
            for m in info.models
        )
        return replace(info, models=models)

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        store: TraceStore | Literal["auto"] | None = "auto",
        providers: Mapping[str, Provider] | None = None,
        jobs: JobStore | Literal["auto"] | None = "auto",
    ) -> Pipeline:
        """Build every stage by registry name; ``providers`` overrides instances by name.

        ``jobs="auto"`` opens the job queue in ``storage.url`` when ``store`` is
        ``"auto"`` too (else none: batch entries then cannot serve)."""
        load_builtins()
        chosen: dict[str, Provider] = dict(providers or {})
        for tier, tier_cfg in config.tiers.items():
            for i, m in enumerate(tier_cfg.models):
                if m.provider not in chosen:
                    with config_key(f"tiers.{tier}.models[{i}].provider"):
                        chosen[m.provider] = provider_registry.create(m.provider, config=config)
        tiers = build_model_infos(config, chosen)
        if jobs == "auto":
            jobs = _open_jobs(config) if store == "auto" else None
        if store == "auto":
            from switchtower.store import SafeTraceWriter

            # starts even with the database down: traces spool to disk until it answers
            days = config.storage.history_days
            store = SafeTraceWriter.open(
                config.storage.url, history_window_s=None if days is None else days * 86400.0
            )
        history = store if isinstance(store, HistorySource) else None
        with config_key("classifier"):
            classifier = classifiers.create(
                config.classifier.name, config=config, **_classifier_options(config)
            )
        with config_key("signals"):
            signals = signal_extractors.create(
                config.signals.name, config=config, history=history, **config.signals.options
            )
        with config_key("router"):
            router = routers.create(config.router.name, config=config, **config.router.options)
        with config_key("selector"):
            selector = selectors.create(
                config.selector.name, config=config, **config.selector.options
            )
        return cls(
            config,
            classifier=classifier,
            signals=signals,
            router=router,
            selector=selector,
            providers=chosen,
            tiers=tiers,
            store=store,
            jobs=jobs,
            cache=_cache(config),
        )

    @property
    def tiers(self) -> Mapping[Tier, TierInfo]:
        return self._tiers

    def model(self, name: str) -> ModelInfo:
        info = self._models.get(name)
        if info is None:
            known = ", ".join(self._models)
            raise UnknownModelError(f"unknown model {name!r}; configured: {known}")
        return info

    def _frontier_model(self) -> ModelInfo | None:
        """The most expensive real-time model: the counterfactual in spend reports."""
        rt = self._tiers.get("realtime")
        if rt is None or not rt.models:
            return None
        return max(rt.models, key=lambda m: (m.input_per_mtok + m.output_per_mtok, m.name))

    # -- planning (dry run) -------------------------------------------------------------

    def _validate(self, request: Request) -> None:
        if not request.messages or not (request.text.strip() or required(request) - {"tools"}):
            raise EmptyPromptError("the request has no text to route", field="messages")

    def _fits(self, tokens: int) -> None:
        """The request's estimate (the signals', one scan) against the largest window."""
        if self._max_context and tokens > self._max_context:
            raise ContextTooLargeError(
                f"the request is about {tokens} tokens, larger than every configured model's "
                f"context window (largest: {self._max_context})",
                field="messages",
            )

    def _classify(self, request: Request) -> Classification:
        hint = request.operation
        if hint is None:
            return self.classifier.classify(request)
        if hint != UNKNOWN and hint not in self._operations:
            known = ", ".join(sorted(self._operations))
            raise UnknownOperationError(f"unknown operation {hint!r}; configured: {known}")
        return Classification(
            operation=hint,
            confidence=1.0,
            backend="client",
            explanation=f"operation {hint!r} given by the client",
        )

    def plan(self, request: Request, *, assume_available: bool = False) -> Decision:
        """classify -> signals -> route -> select. No model is called.

        With ``assume_available`` (a dry run), models that cannot be called here (no key,
        no runtime) are planned as if they could; :meth:`unavailable` tells which.
        """
        start = time.perf_counter()
        self._validate(request)
        classification = self._classify(request)
        signals = self.signals.extract(request, classification)
        self._fits(signals.context_tokens)
        needs = required(request)
        if needs:
            signals = replace(signals, needs=needs)
        if request.model is not None and request.model != "auto":
            info = self.model(str(request.model))
            if not assume_available:
                self.executor.health.check(info)
            route, selection = pinned_route(info, request, assume_available=assume_available)
        else:
            check_servable(needs, (m.capabilities for m in self._models.values()))
            tiers = self._all_tiers if assume_available else self.executor.health.view(self._tiers)
            try:
                route = self.router.route(classification, signals, tiers, request)
            except NoEligibleModelError as exc:
                overhead = (time.perf_counter() - start) * 1000.0
                exc.refused = refused_decision(request, classification, signals, exc, overhead)
                if tiers is not self._tiers and not assume_available:
                    every = self._tiers
                    self.executor.health.blame(
                        exc, lambda: self.router.route(classification, signals, every, request)
                    )
                raise
            selection = self.selector.select(classification, signals, route, tiers)
            if selection.second_opinions and not _checkable(request):
                selection = replace(selection, second_opinions=(), escalation=())
        overhead = (time.perf_counter() - start) * 1000.0
        return Decision(request, classification, signals, route, selection, overhead)

    def unavailable(self, decision: Decision) -> dict[str, str]:
        """Models of the plan (choice and fallbacks) that cannot be called here, and why."""
        names = (decision.selection.model, *decision.selection.fallbacks)
        return {
            n: self._models[n].unavailable_reason or "unavailable"
            for n in names
            if n in self._models and not self._models[n].available
        }

    def candidates(self, decision: Decision) -> list[ModelInfo]:
        return self.inline_models((decision.selection.model, *decision.selection.fallbacks))

    def inline_models(self, names: Sequence[str]) -> list[ModelInfo]:
        """The named models that can answer inline (a batch entry answers through the
        job queue, never inline)."""
        return [
            m
            for n in dict.fromkeys(names)
            if (m := self._models.get(n)) is not None
            and m.available
            and not self._deferred_entry(m)
        ]

    # -- deferral (provider batch APIs) ---------------------------------------------------

    @property
    def deferred_models(self) -> list[str]:
        """The entries that can take jobs here: batch entries, and queued entries when a
        job store is open (an empty list: no queue work)."""
        return [m.name for m in self.batch_models + self.queued_models]

    @property
    def batch_models(self) -> list[ModelInfo]:
        """The available batch entries (their jobs go out as provider batches)."""
        return [m for m in self._models.values() if m.available and self._deferred_entry(m)]

    @property
    def queued_models(self) -> list[ModelInfo]:
        """The available queued entries that take jobs (none without a job store)."""
        if self.jobs is None:
            return []
        return [m for m in self._models.values() if m.available and self._queued_entry(m)]

    def defers(self, decision: Decision) -> bool:
        """Whether the plan answers later: its model is a batch entry (the request
        accepted a deferred answer, or routing would not have chosen one), or a queued
        entry and the request accepted a deferred answer (with a job store open)."""
        m = self._models.get(decision.selection.model)
        if m is None:
            return False
        if self._deferred_entry(m):
            return True
        return decision.request.accept_deferred and self.jobs is not None and self._queued_entry(m)

    def submit(
        self,
        decision: Decision,
        *,
        api_key_id: str | None = None,
        fmt: Literal["openai", "anthropic"] = "openai",
        webhook_url: str | None = None,
    ) -> Job:
        """Store a deferred plan as a job (committed on return) for the queue worker;
        ``webhook_url`` (checked by the caller: ``queue.webhooks.check_webhook``) is told
        when it finishes."""
        from switchtower.queue import Job

        if self.jobs is None or not self.defers(decision):
            raise InvalidRequestError(
                f"model {decision.selection.model!r} answers inline: execute the plan instead"
            )
        req = decision.request
        planned = build_trace(
            decision,
            None,
            decision.overhead_ms,
            frontier=self.recorder.frontier,
            store_prompt=self.recorder.store_prompts,
            status="queued",
            api_key_id=api_key_id,
        )
        now = time.time()
        job = Job(
            id=req.id,
            created_at=now,
            updated_at=now,
            deadline_at=req.received_at + DEADLINE_SECONDS[req.deadline],
            status="queued",
            model=decision.selection.model,
            request=req,
            trace=replace(planned, tier=decision.selection.tier),
            fallbacks=tuple(m.name for m in self.inline_models(decision.selection.fallbacks)),
            fmt=fmt,
            api_key_id=api_key_id,
            webhook_url=webhook_url,
        )
        self.jobs.add(job)
        return job

    async def _complete(self, decision: Decision) -> Completion:
        sel = decision.selection
        peers = self.inline_models(sel.second_opinions)
        if not peers:
            return await self.executor.execute(decision.request, self.candidates(decision))
        return await execute_checked(
            self.executor,
            decision.request,
            self.candidates(decision),
            peers,
            self.inline_models(sel.escalation),
            parallel=self.config.verify.parallel,
        )

    # -- execution ------------------------------------------------------------------------

    async def execute(self, decision: Decision, *, api_key_id: str | None = None) -> RunResult:
        """Run the plan (retries, then fallback) and write one trace. A deferred plan
        (see :meth:`defers`) is not run here: :meth:`submit` queues it."""
        if self.defers(decision):
            raise InvalidRequestError(
                f"model {decision.selection.model!r} answers later through the job queue "
                "(a batch API, or deferred queued work): queue it with Pipeline.submit"
            )
        start = time.perf_counter()
        key = self._cache_key(decision.request, api_key_id)
        cached = await self._cached(key) if key is not None else None
        if cached is not None:
            latency = (time.perf_counter() - start) * 1000.0 + decision.overhead_ms
            trace_id = self.recorder.record(decision, cached, latency, api_key_id=api_key_id)
            return RunResult(decision, cached, trace_id, latency)
        try:
            completion = await self._complete(decision)
        except AllModelsFailedError as exc:
            latency = (time.perf_counter() - start) * 1000.0 + decision.overhead_ms
            self.recorder.record(
                decision, None, latency, attempts=exc.attempts, error=exc, api_key_id=api_key_id
            )
            raise
        latency = (time.perf_counter() - start) * 1000.0 + decision.overhead_ms
        trace_id = self.recorder.record(decision, completion, latency, api_key_id=api_key_id)
        if key is not None:
            await self._remember(key, completion)
        return RunResult(decision, completion, trace_id, latency)

    # -- the response cache -----------------------------------------------------------------

    def _cache_key(self, request: Request, api_key_id: str | None) -> str | None:
        if self.cache is None:
            return None
        c = self.config.cache
        return cache_key(request, when=c.when, api_key_id=api_key_id, scope=c.scope)

    async def _cached(self, key: str) -> Completion | None:
        """The stored answer, free; a failing cache is a miss (counted, logged)."""
        assert self.cache is not None
        try:
            hit = await self.cache.get(key)
            if hit is None:
                return None
            answer = completion_from_json(hit)
        except Exception as exc:  # a cache never fails a request
            self.cache_errors += 1
            log.warning("response cache read failed: %s", exc)
            return None
        return replace(answer, cost_usd=0.0, cached=key)

    async def _remember(self, key: str, completion: Completion) -> None:
        assert self.cache is not None
        try:
            await self.cache.put(key, completion_to_json(completion), self.config.cache.ttl_s)
        except Exception as exc:  # a cache never fails a request
            self.cache_errors += 1
            log.warning("response cache write failed: %s", exc)

    async def run(self, request: Request, *, api_key_id: str | None = None) -> RunResult:
        decision = self.plan_to_serve(request, api_key_id=api_key_id)
        return await self.execute(decision, api_key_id=api_key_id)

    def plan_to_serve(self, request: Request, *, api_key_id: str | None = None) -> Decision:
        """:meth:`plan` for a request that is to be answered (not a dry run): a request
        refused while routing is traced (:meth:`record_refusal`) before the error goes up."""
        try:
            return self.plan(request)
        except NoEligibleModelError as exc:
            self.record_refusal(exc, api_key_id=api_key_id)
            raise

    def record_refusal(
        self, exc: NoEligibleModelError, *, api_key_id: str | None = None
    ) -> str | None:
        """Trace a request refused while routing (no tier could serve it): its operation,
        signals and the reasons, as an ``error`` trace with no model. None when the
        refusal came before routing (nothing to trace). Not for dry runs."""
        if exc.refused is None:
            return None
        return self.recorder.record(
            exc.refused,
            None,
            exc.refused.overhead_ms,
            error=exc,
            status="error",
            api_key_id=api_key_id,
        )

    async def stream(
        self, decision: Decision, *, api_key_id: str | None = None
    ) -> AsyncIterator[Mapping[str, Any]]:
        """OpenAI ``chat.completion.chunk`` dicts; a complete trace is written at the end,
        on failure, and when the consumer stops early (client disconnect). A stream is
        not checked against second opinions: its chunks go out as they come (and its
        trace does not list any)."""
        if decision.selection.second_opinions:
            unchecked = replace(decision.selection, second_opinions=(), escalation=())
            decision = replace(decision, selection=unchecked)
        start = time.perf_counter()
        result = self.executor.stream(decision.request, self.candidates(decision))
        status_error: BaseException | None = None
        try:
            async for chunk in result:
                yield chunk
        except BaseException as exc:
            status_error = exc
            raise
        finally:
            # close the upstream call first (a client that went away must not leave it
            # running), so the attempts are final when the trace is built
            await result.aclose()
            latency = (time.perf_counter() - start) * 1000.0 + decision.overhead_ms
            completion: Completion | None = result.completion()
            if completion is not None and status_error is None:
                self.recorder.record(decision, completion, latency, api_key_id=api_key_id)
            else:
                err = status_error if isinstance(status_error, SwitchtowerError) else None
                self.recorder.record(
                    decision,
                    completion,
                    latency,
                    attempts=result.attempts,
                    error=err,
                    status="cancelled" if err is None else "error",
                    api_key_id=api_key_id,
                )

    def record_outcome(self, trace_id: str, outcome: Outcome) -> bool:
        if self.store is None:
            return False
        return self.store.record_outcome(trace_id, outcome)

    async def aclose(self) -> None:
        if self.jobs is not None:
            self.jobs.close()
        if self.cache is not None:
            try:
                await self.cache.aclose()
            except Exception:  # closing must not mask the caller's outcome
                log.exception("closing the response cache failed")
        for p in self.providers.values():
            try:
                await p.aclose()
            except Exception:  # closing must not mask the caller's outcome
                log.exception("closing provider %s failed", getattr(p, "name", p))


def _checkable(request: Request) -> bool:
    """Whether a second opinion can be compared: not for tool calls or several choices."""
    params = request.params
    n = params.get("n")
    return not (params.get("tools") or params.get("functions") or (isinstance(n, int) and n > 1))


def _cache(config: Config) -> ResponseCache | None:
    """The configured response cache (None when ``cache.when`` is ``never``)."""
    c = config.cache
    if c.when == "never":
        return None
    name = c.name
    if name == "auto":
        name = "redis" if config.storage.redis_url else "memory"
    with config_key("cache"):
        return caches.create(name, config=config, **c.options)


def _open_jobs(config: Config) -> JobStore | None:
    """The job queue in ``storage.url``; None (logged) when the database cannot be
    opened, so the gateway still starts (batch entries then cannot serve)."""
    from switchtower.queue import JobStore

    try:
        return JobStore.open(config.storage.url)
    except SwitchtowerError as exc:
        log.warning("job queue unavailable, batch entries disabled: %s", exc)
        return None


def _classifier_options(config: Config) -> dict[str, Any]:
    opts = dict(config.classifier.options)
    if config.classifier.artifact is not None:
        opts.setdefault("artifact", config.classifier.artifact)
    return opts
