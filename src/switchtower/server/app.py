"""The ASGI app: routes, error handling at the edge, metrics, lifespan.

``create_app(pipeline)`` is all a caller needs; ``switchtower serve`` runs it under
uvicorn. Every error body is OpenAI-style JSON (Anthropic-style on ``/v1/messages``) and
never carries a stack trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse as _StarletteJSON
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchtower.errors import InvalidRequestError, SwitchtowerError, UnknownModelError
from switchtower.pipeline import Pipeline
from switchtower.providers.common import json_bytes, json_loads
from switchtower.queue import JobStore
from switchtower.server.access import Gatekeeper
from switchtower.server.anthropic_wire import parse_messages
from switchtower.server.budgets import Limiter, MemoryLimiter
from switchtower.server.count_tokens import count_tokens
from switchtower.server.gateway import Gateway
from switchtower.server.hints import Hints, parse_hints
from switchtower.server.journal import TraceJournal
from switchtower.server.keys import KeyStore
from switchtower.server.metrics import CONTENT_TYPE, GatewayMetrics
from switchtower.server.openai_wire import (
    ChatCall,
    build_request,
    check_messages,
    check_params,
    parse_chat,
)
from switchtower.server.openapi import openapi_document
from switchtower.server.responses_wire import parse_responses
from switchtower.server.sse import SSEResponse
from switchtower.server.tracewriter import BackgroundTraceWriter
from switchtower.store.spool import Spool
from switchtower.types import Outcome

__all__ = ["GatewayApp", "create_app"]

log = logging.getLogger(__name__)

#: what an endpoint returns: a Starlette response or the streaming SSE response
Reply = Response | SSEResponse
Handler = Callable[[HttpRequest], Awaitable[Reply]]

_FEEDBACK_FIELDS = frozenset({"trace_id", "success", "score", "comment"})
_MAX_COMMENT = 4000


async def _json_body(request: HttpRequest) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise InvalidRequestError("the body must be a JSON object", field="body")
    try:
        return json_loads(raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too deep
        raise InvalidRequestError(f"the body is not valid JSON: {exc}", field="body") from None


class JSONResponse(_StarletteJSON):
    """Starlette's JSON response, serialised with orjson (the same compact UTF-8 JSON)."""

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


class _Observed:
    """Pure ASGI wrapper: request count and latency (to the last byte) per route."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics, paths: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope["path"]
        route = path if path in self.paths else "other"
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            self.metrics.observe_request(
                route, scope["method"], status, time.perf_counter() - start
            )


#: a wire's body parser: the JSON body and the hint reader -> the validated call
Parser = Callable[[Any, Callable[[Any], Hints]], ChatCall]


class _App:
    """The endpoints, bound to one :class:`Gateway`."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    def guard(self, handler: Handler, fmt: str = "openai") -> Handler:
        async def endpoint(request: HttpRequest) -> Reply:
            try:
                return await handler(request)
            except Exception as exc:
                status, body, headers = self.gw.error_response_body(exc, fmt)
                return JSONResponse(body, status_code=status, headers=headers)

        endpoint.__name__ = handler.__name__
        return endpoint

    def hints_of(self, request: HttpRequest) -> Callable[[Any], Hints]:
        def read(body: Any) -> Hints:
            return parse_hints(
                body.get("model"),
                body.get("metadata"),
                request.headers,
                operations=self.gw.operations,
                models=self.gw.models,
                webhooks=self.gw.webhooks,
            )

        return read

    async def _routed(self, request: HttpRequest, parse: Parser, fmt: str) -> Reply:
        """A routed call on one wire: parse, then answer as JSON or as a stream."""
        caller = await self.gw.authenticate(request)
        call = parse(await _json_body(request), self.hints_of(request))
        if call.stream:
            return await self.gw.stream(call, caller, fmt)
        status, body, headers = await self.gw.complete(call, caller, fmt)
        return JSONResponse(body, status_code=status, headers=headers)

    async def chat_completions(self, request: HttpRequest) -> Reply:
        return await self._routed(request, parse_chat, "openai")

    async def messages(self, request: HttpRequest) -> Reply:
        return await self._routed(request, parse_messages, "anthropic")

    async def responses(self, request: HttpRequest) -> Reply:
        return await self._routed(request, parse_responses, "responses")

    async def count_tokens(self, request: HttpRequest) -> Response:
        await self.gw.authenticate(request, spends=False)
        body, headers = await count_tokens(self.gw.pipeline, await _json_body(request))
        return JSONResponse(body, headers=headers)

    async def job(self, request: HttpRequest) -> Response:
        caller = await self.gw.authenticate(request, spends=False)
        job_id = request.path_params["job_id"]
        jobs = self.gw.pipeline.jobs
        job = await asyncio.to_thread(jobs.get, job_id) if jobs is not None else None
        if job is None or (caller.key is not None and job.api_key_id != caller.key_id):
            body = {
                "error": {
                    "message": f"no job {job_id!r}",
                    "type": "not_found_error",
                    "param": "job_id",
                    "code": "job_not_found",
                }
            }
            return JSONResponse(body, status_code=404)
        return JSONResponse(self.gw.job_reply(job))

    def _model_entries(self, anthropic: bool) -> list[dict[str, Any]]:
        """``auto``, ``auto:<operation>`` and every configured model, in the shape of the
        SDK asking (Anthropic's when the request has ``anthropic-version``)."""
        entries: list[tuple[str, str, dict[str, Any]]] = [("auto", "switchtower", {})]
        entries += [(f"auto:{op}", "switchtower", {}) for op in sorted(self.gw.operations)]
        for tier, info in self.gw.pipeline.tiers.items():
            for m in info.models:
                extra = {
                    "tier": tier,
                    "available": m.available,
                    "capabilities": sorted(m.capabilities),
                }
                entries.append((m.name, m.provider, extra))
        if anthropic:
            return [
                {"id": i, "type": "model", "display_name": i, "created_at": "1970-01-01T00:00:00Z"}
                for i, _, _ in entries
            ]
        return [
            {"id": i, "object": "model", "created": 0, "owned_by": owner, **extra}
            for i, owner, extra in entries
        ]

    async def models(self, request: HttpRequest) -> Response:
        await self.gw.authenticate(request, spends=False)
        if "anthropic-version" in request.headers:
            data = self._model_entries(anthropic=True)
            return JSONResponse(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"],
                    "last_id": data[-1]["id"],
                }
            )
        return JSONResponse({"object": "list", "data": self._model_entries(anthropic=False)})

    async def model(self, request: HttpRequest) -> Response:
        """One model (``client.models.retrieve(id)`` in both SDKs)."""
        await self.gw.authenticate(request, spends=False)
        wanted = request.path_params["model_id"]
        anthropic = "anthropic-version" in request.headers
        for entry in self._model_entries(anthropic):
            if entry["id"] == wanted:
                return JSONResponse(entry)
        raise UnknownModelError(f"the model {wanted!r} does not exist")

    async def route(self, request: HttpRequest) -> Response:
        caller = await self.gw.authenticate(request, spends=False)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise InvalidRequestError("the body must be a JSON object", field="body")
        prompt = body.get("prompt")
        if prompt is not None and body.get("messages") is not None:
            raise InvalidRequestError("give either prompt or messages, not both", field="prompt")
        if prompt is not None:
            if not isinstance(prompt, str):
                raise InvalidRequestError("prompt must be a string", field="prompt")
            messages: tuple[Any, ...] = ({"role": "user", "content": prompt},)
        else:
            messages = check_messages(body.get("messages"))
        params = check_params(
            body, frozenset({"model", "messages", "prompt", "metadata", "stream", "stream_options"})
        )
        hints = self.hints_of(request)({**body, "model": body.get("model") or "auto"})
        req = build_request(messages, hints, params)
        return JSONResponse(self.gw.plan(req, caller).to_json())

    async def feedback(self, request: HttpRequest) -> Response:
        caller = await self.gw.authenticate(request, spends=False)
        body = await _json_body(request)
        outcome, trace_id = _parse_feedback(body)
        writer = self.gw.writer
        if writer.inner is None:
            raise InvalidRequestError("feedback needs a trace store; none is configured")
        trace = await asyncio.to_thread(writer.get, trace_id)
        if trace is None or (caller.key is not None and trace.api_key_id != caller.key_id):
            return JSONResponse(
                {
                    "error": {
                        "message": f"no trace {trace_id!r}",
                        "type": "not_found_error",
                        "param": "trace_id",
                        "code": "trace_not_found",
                    }
                },
                status_code=404,
            )
        recorded = await asyncio.to_thread(writer.record_outcome, trace_id, outcome)
        return JSONResponse({"trace_id": trace_id, "recorded": recorded})

    async def healthz(self, request: HttpRequest) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: HttpRequest) -> Response:
        checks = {
            "models": any(t.available for t in self.gw.pipeline.tiers.values()),
            "limiter": await self.gw.gate.limiter.ping(),
        }
        if all(checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        failing = ", ".join(k for k, ok in checks.items() if not ok)
        return JSONResponse(
            {
                "error": {
                    "message": f"not ready: {failing}",
                    "type": "service_unavailable",
                    "param": None,
                    "code": "not_ready",
                },
                "checks": checks,
            },
            status_code=503,
        )

    async def metrics(self, request: HttpRequest) -> Response:
        # in a thread: a scrape reads the job store
        body = await asyncio.to_thread(self.gw.metrics.render)
        return Response(body, media_type=CONTENT_TYPE)

    async def openapi(self, request: HttpRequest) -> Response:
        return JSONResponse(openapi_document(self.gw.pipeline.config))


def _prepare_providers(pipeline: Pipeline) -> None:
    """Providers may offer ``prepare()`` (SDK imports, HTTP clients); failures only log."""
    for name, provider in pipeline.providers.items():
        prepare = getattr(provider, "prepare", None)
        if prepare is None:
            continue
        try:
            prepare()
        except Exception:
            log.exception("preparing provider %s failed; it will set up on first use", name)


def _open_jobs(jobs: JobStore) -> int:
    """Jobs not finished yet (a database that does not answer counts as some)."""
    try:
        counts = jobs.counts()
    except SwitchtowerError:
        return 1
    return sum(n for status, n in counts.items() if status not in ("completed", "failed"))


def _start_queue_worker(pipeline: Pipeline, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """The job queue's worker, inside this server process (``queue.worker``); several
    processes or replicas may each run one: their claims do not overlap. None when no
    batch entry can serve here and no job is stored (nothing to do: no polling)."""
    if pipeline.jobs is None or not pipeline.config.queue.worker:
        return None
    from switchtower.queue import QueueWorker

    if not pipeline.deferred_models and not _open_jobs(pipeline.jobs):
        return None  # no batch entry can serve and nothing is left to finish

    worker = QueueWorker(pipeline, pipeline.jobs)
    return asyncio.create_task(worker.run(stop), name="switchtower-queue-worker")


def _parse_feedback(body: Any) -> tuple[Outcome, str]:
    if not isinstance(body, dict):
        raise InvalidRequestError("the body must be a JSON object", field="body")
    for name in body:
        if name not in _FEEDBACK_FIELDS:
            raise InvalidRequestError(f"unrecognized field: {name}", field=name)
    trace_id = body.get("trace_id")
    if not isinstance(trace_id, str) or not trace_id or len(trace_id) > 64:
        raise InvalidRequestError("trace_id must be a trace id string", field="trace_id")
    success, score, comment = body.get("success"), body.get("score"), body.get("comment")
    if success is not None and not isinstance(success, bool):
        raise InvalidRequestError("success must be a boolean", field="success")
    if score is not None and (
        isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1
    ):
        raise InvalidRequestError("score must be a number between 0 and 1", field="score")
    if success is None and score is None:
        raise InvalidRequestError("give success or score", field="success")
    if comment is not None and (not isinstance(comment, str) or len(comment) > _MAX_COMMENT):
        raise InvalidRequestError(
            f"comment must be a string of at most {_MAX_COMMENT} characters", field="comment"
        )
    outcome = Outcome(
        success=success,
        score=None if score is None else float(score),
        comment=comment,
        source="feedback",
    )
    return outcome, trace_id


class GatewayApp(_Observed):
    """The ASGI app returned by :func:`create_app` (Starlette inside, metrics around it)."""

    def __init__(self, starlette: Starlette, gateway: Gateway, paths: frozenset[str]) -> None:
        super().__init__(starlette, gateway.metrics, paths)
        self.starlette = starlette
        self.gateway = gateway

    @property
    def routes(self) -> list[Route]:
        return [r for r in self.starlette.routes if isinstance(r, Route)]


def _journal(pipeline: Pipeline) -> TraceJournal | None:
    """The trace journal beside the store's spool, after recovering what a crashed
    process left in it (moved into the spool, then replayed into the store)."""
    spool = getattr(pipeline.store, "spool", None)
    if not isinstance(spool, Spool):
        return None
    journal = TraceJournal(spool.path.with_name(spool.path.name + ".journal"))
    if journal.recover(spool):
        replay = getattr(pipeline.store, "replay", None)
        if callable(replay):
            replay()
    return journal


def create_app(
    pipeline: Pipeline,
    *,
    keys: KeyStore | None = None,
    limiter: Limiter | None = None,
    key_cache_ttl_s: float = 5.0,
    owns_pipeline: bool = False,
    freeze_gc: bool = False,
) -> GatewayApp:
    """The gateway as an ASGI app.

    ``keys`` enables API keys (required once any key exists); ``limiter`` holds rate and
    budget counters (default: in process). The pipeline's trace recorder is pointed at a
    background writer (drained on shutdown). With ``owns_pipeline`` the app also closes
    the pipeline (its upstream clients) and the key store on shutdown. At start-up the
    providers are prepared (SDK imports, HTTP clients); with ``freeze_gc`` (what
    ``switchtower serve`` uses: the process is the server's) everything loaded by then is
    moved out of the garbage collector's reach (``gc.freeze``) until shutdown.
    """
    writer = BackgroundTraceWriter(pipeline.recorder.store, journal=_journal(pipeline))
    metrics = GatewayMetrics(
        trace_failures=lambda: float(writer.write_failures + pipeline.recorder.write_failures),
        trace_queue=lambda: float(writer.pending),
        job_counts=pipeline.jobs.counts if pipeline.jobs is not None else None,
        circuits=lambda: pipeline.executor.health.open_models(
            m for info in pipeline.tiers.values() for m in info.models
        ),
    )
    gate = Gatekeeper(keys, limiter or MemoryLimiter(), cache_ttl_s=key_cache_ttl_s)
    gateway = Gateway(pipeline, gate, metrics, writer)
    writer.listeners.append(gateway.on_trace)
    pipeline.recorder.store = writer
    app = _App(gateway)

    routes = [
        Route("/v1/chat/completions", app.guard(app.chat_completions), methods=["POST"]),
        Route("/v1/messages", app.guard(app.messages, "anthropic"), methods=["POST"]),
        Route("/v1/responses", app.guard(app.responses), methods=["POST"]),
        Route(
            "/v1/messages/count_tokens",
            app.guard(app.count_tokens, "anthropic"),
            methods=["POST"],
        ),
        Route("/v1/models", app.guard(app.models), methods=["GET"]),
        Route("/v1/models/{model_id:path}", app.guard(app.model), methods=["GET"]),
        Route("/v1/route", app.guard(app.route), methods=["POST"]),
        Route("/v1/jobs/{job_id}", app.guard(app.job), methods=["GET"]),
        Route("/v1/feedback", app.guard(app.feedback), methods=["POST"]),
        Route("/healthz", app.guard(app.healthz), methods=["GET"]),
        Route("/readyz", app.guard(app.readyz), methods=["GET"]),
        Route("/metrics", app.guard(app.metrics), methods=["GET"]),
        Route("/openapi.json", app.guard(app.openapi), methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        _prepare_providers(pipeline)
        stop_queue = asyncio.Event()
        queue_task = _start_queue_worker(pipeline, stop_queue)
        if freeze_gc:
            # what start-up loaded (classifier vocabularies, the SDKs' modules: ~170k
            # objects) stays: keep it out of every collection, or a full collection
            # stalls the event loop for tens of milliseconds (a p99 spike)
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            stop_queue.set()
            if queue_task is not None:
                await queue_task
            if freeze_gc:
                gc.unfreeze()
            await asyncio.to_thread(writer.close)
            await gate.limiter.aclose()
            if owns_pipeline:
                await pipeline.aclose()
                if keys is not None:
                    keys.close()

    async def http_error(request: HttpRequest, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        kinds = {404: "not_found_error", 405: "invalid_request_error"}
        code = "not_found" if exc.status_code == 404 else "method_not_allowed"
        body = {
            "error": {
                "message": f"{exc.detail}: {request.method} {request.url.path}",
                "type": kinds.get(exc.status_code, "invalid_request_error"),
                "param": None,
                "code": code,
            }
        }
        metrics.observe_error(code)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    starlette = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error}
    )
    return GatewayApp(starlette, gateway, frozenset(r.path for r in routes))
