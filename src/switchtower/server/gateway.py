"""The request path shared by the wire formats (chat completions, messages, responses):
authenticate, admit, plan, execute or stream, trace, charge. The wire modules only parse
and shape; the app only wires routes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, Protocol

from starlette.requests import Request as HttpRequest

from switchtower.errors import NoEligibleModelError, SwitchtowerError
from switchtower.pipeline import Pipeline
from switchtower.queue import Job
from switchtower.route.eligibility import DEFAULT_OUTPUT_TOKENS
from switchtower.server.access import Caller, Gatekeeper
from switchtower.server.anthropic_wire import AnthropicStream, message_body
from switchtower.server.http_errors import (
    BudgetExceededError,
    ConstraintsExcludeAllError,
    constraint_fields,
    to_http,
)
from switchtower.server.metrics import GatewayMetrics
from switchtower.server.openai_wire import ChatCall, completion_body, sse_chunk, sse_done
from switchtower.server.responses_stream import ResponsesStream
from switchtower.server.responses_wire import response_body
from switchtower.server.sse import SSEResponse
from switchtower.server.tracewriter import BackgroundTraceWriter
from switchtower.types import Decision, Request, Trace

__all__ = ["Gateway", "StreamEncoder", "routing_headers"]

log = logging.getLogger(__name__)


class StreamEncoder(Protocol):
    """``chat.completion.chunk`` dicts -> a wire's stream events (as bytes)."""

    def start(self) -> list[bytes]: ...

    def feed(self, chunk: Mapping[str, Any]) -> list[bytes]: ...

    def failed(self, kind: str, body: Mapping[str, Any]) -> list[bytes]: ...

    def finish(self) -> list[bytes]: ...


def routing_headers(
    trace_id: str, operation: str, tier: str, model: str, cost_usd: float
) -> dict[str, str]:
    return {
        "x-switchtower-trace-id": trace_id,
        # where each SDK reads a request id (``response._request_id``): the trace id, so
        # what a client logs is what feedback and ``switchtower traces show`` take
        "x-request-id": trace_id,
        "request-id": trace_id,
        "x-switchtower-operation": operation,
        "x-switchtower-tier": tier,
        "x-switchtower-model": model,
        "x-switchtower-cost-usd": f"{cost_usd:.8f}",
    }


class Gateway:
    """State for one app: the pipeline, the key gate, metrics and the trace writer."""

    def __init__(
        self,
        pipeline: Pipeline,
        gate: Gatekeeper,
        metrics: GatewayMetrics,
        writer: BackgroundTraceWriter,
    ) -> None:
        self.pipeline = pipeline
        self.gate = gate
        self.metrics = metrics
        self.writer = writer
        self.operations = frozenset(o.name for o in pipeline.config.operations)
        self.models = frozenset(pipeline.config.model_names())
        self.webhooks = pipeline.config.queue.webhooks.allow
        self._waiting: dict[str, Trace | None] = {}

    # -- traces -----------------------------------------------------------------------------

    def on_trace(self, trace: Trace) -> None:
        """Trace listener (called inline by the recorder): metrics and the finished trace."""
        self.metrics.observe_trace(trace)
        if trace.id in self._waiting:
            self._waiting[trace.id] = trace

    def _take(self, trace_id: str) -> Trace | None:
        return self._waiting.pop(trace_id, None)

    async def _settle(self, caller: Caller, trace_id: str) -> Trace | None:
        trace = self._take(trace_id)
        if trace is not None:
            try:
                await self.gate.charge(caller, trace.cost_usd)
            except Exception:  # an unreachable Redis must not fail an answered request
                log.exception("could not charge trace %s to key %s", trace_id, caller.key_id)
        return trace

    # -- planning -----------------------------------------------------------------------------

    def plan(self, request: Request, caller: Caller, *, serve: bool = False) -> Decision:
        """Plan under the caller's remaining budget (a cap on ``max_cost_usd``). With
        ``serve`` (a request to answer, not a dry run) a routing refusal is traced."""
        budget = caller.remaining_usd
        capped = budget is not None and (
            request.max_cost_usd is None or budget < request.max_cost_usd
        )
        given = request
        if capped:
            request = dataclasses.replace(request, max_cost_usd=budget)
        try:
            return self.pipeline.plan(request)
        except NoEligibleModelError as refused:
            exc = refused
            if capped and refused.retry_after is None:  # an outage is not the budget's
                uncapped = self._refusal(given)
                if uncapped is None:  # the budget refused it: counted, not traced
                    raise BudgetExceededError(
                        f"the key's remaining daily budget (${budget:.6f}) is too small for "
                        f"any eligible model: {exc}"
                    ) from exc
                request, exc = given, uncapped  # refused for another reason: say that one
            if serve:
                self.pipeline.record_refusal(exc, api_key_id=caller.key_id)
            fields = constraint_fields(request)
            if fields and exc.retry_after is None:  # the client's hints, not an outage
                raise ConstraintsExcludeAllError(str(exc), fields=fields) from exc
            if exc is refused:
                raise
            raise exc from None

    def _refusal(self, request: Request) -> NoEligibleModelError | None:
        """Why ``request`` is refused without the key's budget cap, or ``None`` when it
        has a plan (a refusal under the cap is then the budget's)."""
        try:
            self.pipeline.plan(request)
        except NoEligibleModelError as exc:
            return exc
        return None

    # -- non-streaming ------------------------------------------------------------------------

    async def complete(
        self, call: ChatCall, caller: Caller, fmt: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """``(status, body, headers)``: 200 and the answer, or 202 and a job handle when
        the plan is a batch API (the client accepted a deferred answer)."""
        decision = self.plan(call.request, caller, serve=True)
        if self.pipeline.defers(decision):
            return await self._defer(decision, caller, fmt, call.webhook)
        trace_id = decision.request.id
        self._waiting[trace_id] = None
        try:
            result = await self.pipeline.execute(decision, api_key_id=caller.key_id)
        finally:
            trace = await self._settle(caller, trace_id)
        completion = result.completion
        assert completion is not None
        cost = trace.cost_usd if trace is not None else completion.cost_usd
        headers = routing_headers(
            trace_id,
            decision.classification.operation,
            completion.tier,
            completion.model,
            cost,
        )
        if completion.cached is not None:
            headers["x-switchtower-cache"] = "hit"
        if fmt == "responses":
            body = response_body(completion, trace_id, call.echo)
        elif fmt == "anthropic":
            body = message_body(completion, trace_id)
        else:
            body = completion_body(completion, trace_id)
        return 200, body, headers

    async def _defer(
        self, decision: Decision, caller: Caller, fmt: str, webhook: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Store the plan as a job (committed before the answer) and charge its estimate."""
        info = self.pipeline.model(decision.selection.model)
        estimate = info.cost(decision.signals.context_tokens, DEFAULT_OUTPUT_TOKENS)
        job = await asyncio.to_thread(
            self.pipeline.submit,
            decision,
            api_key_id=caller.key_id,
            fmt="anthropic" if fmt == "anthropic" else "openai",
            webhook_url=webhook,
        )
        try:
            await self.gate.charge(caller, estimate)
        except Exception:  # an unreachable Redis must not fail an accepted job
            log.exception("could not charge job %s to key %s", job.id, caller.key_id)
        self.metrics.observe_deferred(job.model)
        headers = routing_headers(
            job.id, decision.classification.operation, info.tier, info.name, estimate
        )
        headers["location"] = f"/v1/jobs/{job.id}"
        return 202, job.to_json(), headers

    def job_reply(self, job: Job) -> dict[str, Any]:
        """``GET /v1/jobs/{id}``: the job, and its answer in the wire format it came in."""
        body = job.to_json()
        completion = job.completion
        if completion is not None:
            body["response"] = (
                message_body(completion, job.id)
                if job.fmt == "anthropic"
                else completion_body(completion, job.id)
            )
        return body

    # -- streaming ------------------------------------------------------------------------------

    def _answering_model(self, decision: Decision, first: Mapping[str, Any] | None) -> str:
        """The configured name of the model that started answering.

        Fallback happens only before the first chunk, so the first chunk's upstream model
        id identifies the candidate; when ids are ambiguous the planned model is reported
        (the trace always records the exact one).
        """
        planned = decision.selection.model
        upstream = first.get("model") if first is not None else None
        if not isinstance(upstream, str):
            return planned
        matches = [m.name for m in self.pipeline.candidates(decision) if m.model_id == upstream]
        return planned if planned in matches or not matches else matches[0]

    async def stream(self, call: ChatCall, caller: Caller, fmt: str) -> SSEResponse:
        decision = self.plan(call.request, caller, serve=True)
        trace_id = decision.request.id
        self._waiting[trace_id] = None
        chunks = self.pipeline.stream(decision, api_key_id=caller.key_id)
        try:
            first: Mapping[str, Any] | None = await chunks.__anext__()
        except StopAsyncIteration:
            first = None
        except BaseException:
            await self._settle(caller, trace_id)
            raise
        model = self._answering_model(decision, first)
        info = self.pipeline.model(model)
        # the answer does not exist yet: the header holds the prompt's cost at this model's
        # price (a lower bound); the exact cost is in the trace and the final usage
        headers = routing_headers(
            trace_id,
            decision.classification.operation,
            info.tier,
            model,
            info.cost(decision.signals.context_tokens, 0),
        )
        encode: Callable[[AsyncIterator[Mapping[str, Any]]], AsyncGenerator[bytes, None]]
        tokens = decision.signals.context_tokens
        if fmt in ("anthropic", "responses"):
            encoder: StreamEncoder = (
                AnthropicStream(f"msg_{trace_id}", model, tokens)
                if fmt == "anthropic"
                else ResponsesStream(f"resp_{trace_id}", model, call.echo, tokens)
            )
            encode = lambda it: self._encoded_events(encoder, it, fmt)  # noqa: E731
        else:
            encode = lambda it: self._openai_events(model, call.include_usage, it)  # noqa: E731

        async def finished(_disconnected: bool) -> None:
            await self._settle(caller, trace_id)

        return SSEResponse(encode(_prepend(first, chunks)), headers=headers, on_close=finished)

    async def _openai_events(
        self, model: str, include_usage: bool, chunks: AsyncIterator[Mapping[str, Any]]
    ) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in chunks:
                out = dict(chunk)
                out["model"] = model
                if "usage" in out and not include_usage:
                    if not out.get("choices"):
                        continue
                    del out["usage"]
                yield sse_chunk(out)
        except SwitchtowerError as exc:
            # headers are gone: report in-band, as OpenAI does (the SDK raises on it)
            err = to_http(exc)
            self.metrics.observe_error(exc.kind)
            yield sse_chunk(err.openai_body())
        finally:
            await _aclose(chunks)
        yield sse_done()

    async def _encoded_events(
        self, encoder: StreamEncoder, chunks: AsyncIterator[Mapping[str, Any]], fmt: str
    ) -> AsyncGenerator[bytes, None]:
        """The Anthropic and Responses streams: the encoder's events, and its own error
        event when the upstream fails after the headers went."""
        for event in encoder.start():
            yield event
        try:
            async for chunk in chunks:
                for event in encoder.feed(chunk):
                    yield event
        except SwitchtowerError as exc:
            err = to_http(exc)
            self.metrics.observe_error(exc.kind)
            body = err.anthropic_body() if fmt == "anthropic" else err.openai_body()
            for event in encoder.failed(exc.kind, body):
                yield event
            return
        finally:
            await _aclose(chunks)
        for event in encoder.finish():
            yield event

    # -- helpers for the app --------------------------------------------------------------------

    async def authenticate(self, request: HttpRequest, *, spends: bool = True) -> Caller:
        caller = await self.gate.authenticate(request.headers)
        return await self.gate.admit(caller, spends=spends)

    def error_response_body(
        self, exc: BaseException, fmt: str, request: Request | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        err = to_http(exc, request)
        kind = exc.kind if isinstance(exc, SwitchtowerError) else "internal"
        self.metrics.observe_error(kind)
        if err.status >= 500 and not isinstance(exc, SwitchtowerError):
            log.error("unexpected error", exc_info=exc)
        body = err.anthropic_body() if fmt == "anthropic" else err.openai_body()
        return err.status, body, dict(err.headers)


async def _prepend(
    first: Mapping[str, Any] | None, rest: AsyncIterator[Mapping[str, Any]]
) -> AsyncGenerator[Mapping[str, Any], None]:
    try:
        if first is not None:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await _aclose(rest)


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
