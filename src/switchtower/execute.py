"""The executor: one request, an ordered list of candidate models, retries and fallback.

Policy, per candidate in order:

* up to ``retry.max_attempts`` calls; retryable failures (429, 5xx, connect errors and
  timeouts) wait ``random() * min(max_delay_s, base_delay_s * 2**(n-1))`` (exponential
  backoff with full jitter), or ``max(Retry-After, that)`` when the upstream says how long;
* a Retry-After longer than ``retry.max_delay_s`` is not waited for: the next model is
  tried at once (waiting that long is queueing, not retrying);
* a rejected request (4xx other than 429: bad request, context too long, auth, unknown
  model) is not retried on the same model but does move on to the next one, because
  models differ in context size, parameters and credentials; every rejection is recorded;
* no wait after a model's last attempt; unavailable candidates are skipped, not called,
  and so are models whose circuit is open (``health.py``: each request's outcome per
  model is recorded there, once however many attempts it took; a model that goes out
  while a request retries it is left at once).

The executor counts the calls in flight per endpoint (:attr:`ModelInfo.endpoint`): the
queue worker runs queued local work only while no call waits on the same hardware.

Every call is an :class:`~switchtower.types.Attempt`. Success returns the completion with
all attempts; when every candidate fails, :class:`AllModelsFailedError` carries them.
Streams retry and fall back only until the first chunk has been passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from switchtower.config.schema import Config, RetryConfig
from switchtower.errors import AllModelsFailedError, SwitchtowerError, UpstreamError
from switchtower.health import HealthBook
from switchtower.protocols import ModelInfo, Provider
from switchtower.providers.common import usage_from_openai
from switchtower.registries import providers as provider_registry
from switchtower.types import Attempt, Completion, Request, Usage

__all__ = ["Executor", "ExecutorStream", "build_providers"]

Sleep = Callable[[float], Awaitable[None]]


def build_providers(config: Config) -> dict[str, Provider]:
    """One provider instance per provider name that config uses, from the registry."""
    import switchtower.providers.builtin  # noqa: F401 - registers the built-in providers

    names = {m.provider for t in config.tiers.values() for m in t.models}
    return {name: provider_registry.create(name, config=config) for name in sorted(names)}


def _error_kind(exc: BaseException) -> str:
    return exc.kind if isinstance(exc, SwitchtowerError) else "provider_error"


def _why(attempt: Attempt) -> str:
    """``kind: message`` of a failed attempt, without the model name the provider's
    message may begin with (the caller names the model)."""
    message = attempt.error_message or ""
    message = message.removeprefix(f"{attempt.model}: ")
    return f"{attempt.error_kind}: {message}"


class Executor:
    """Runs a request on the first candidate that answers (see the module docstring)."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        retry: RetryConfig | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.providers = providers
        self.retry = retry or RetryConfig()
        self.health = HealthBook(self.retry, clock=time.monotonic)
        self._sleep = sleep
        self._random = random
        self._clock = clock
        #: calls in flight per endpoint (a stream counts until it ends)
        self.in_flight: Counter[tuple[str, str | None, str]] = Counter()

    def busy(self, model: ModelInfo) -> int:
        """Calls in flight on the endpoint that serves ``model``."""
        return self.in_flight[model.endpoint]

    def _enter(self, model: ModelInfo) -> None:
        self.in_flight[model.endpoint] += 1

    def _leave(self, model: ModelInfo) -> None:
        key = model.endpoint
        self.in_flight[key] -= 1
        if self.in_flight[key] <= 0:
            del self.in_flight[key]

    # -- policy --------------------------------------------------------------------------

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff after the ``attempt``-th failed call (1-based)."""
        ceiling = min(self.retry.max_delay_s, self.retry.base_delay_s * 2.0 ** (attempt - 1))
        return self._random() * ceiling

    def delay(self, error: BaseException, attempt: int, last: bool) -> float | None:
        """Seconds to wait before retrying the same model, or ``None`` to move on."""
        if last or not isinstance(error, UpstreamError) or not error.retryable:
            return None
        wait = self.backoff(attempt)
        if error.retry_after is not None:
            if error.retry_after > self.retry.max_delay_s:
                return None
            wait = max(wait, error.retry_after)
        return wait

    async def wait_to_retry(self, model: ModelInfo, error: BaseException, attempt: int) -> bool:
        """Wait before calling ``model`` again after its ``attempt``-th failure; False:
        move on (not retryable, the last attempt, or the model went out meanwhile)."""
        wait = self.delay(error, attempt, last=attempt == self.retry.max_attempts)
        if wait is None or self.health.open_reason(model) is not None:
            return False
        await self._sleep(wait)
        return self.health.open_reason(model) is None  # others may have taken it out

    # -- helpers -------------------------------------------------------------------------

    def _provider(self, model: ModelInfo) -> Provider | None:
        return self.providers.get(model.provider)

    def _skip_reason(self, model: ModelInfo) -> str | None:
        if not model.available:
            return f"{model.name} unavailable: {model.unavailable_reason or 'no reason given'}"
        if self._provider(model) is None:
            return f"{model.name}: no provider {model.provider!r} is set up"
        out = self.health.open_reason(model)
        if out is not None:
            return f"{model.name} circuit open: {out}"
        return None

    def _attempt(
        self,
        model: ModelInfo,
        started_at: float,
        t0: float,
        error: BaseException | None = None,
        *,
        usage: Usage | None = None,
        kind: str | None = None,
    ) -> Attempt:
        usage = usage or Usage()
        return Attempt(
            model=model.name,
            provider=model.provider,
            tier=model.tier,
            started_at=started_at,
            latency_ms=(self._clock() - t0) * 1000.0,
            ok=error is None and kind is None,
            error_kind=kind or (_error_kind(error) if error is not None else None),
            error_message=str(error) if error is not None else None,
            status=error.status if isinstance(error, UpstreamError) else None,
            usage=usage,
            cost_usd=model.usage_cost(usage),
        )

    @staticmethod
    def failure(
        attempts: Sequence[Attempt], skipped: Sequence[str], candidates: Sequence[ModelInfo]
    ) -> AllModelsFailedError:
        tried = list(dict.fromkeys(a.model for a in attempts))
        parts = []
        if tried:
            last = {a.model: a for a in attempts}
            parts.append("; ".join(f"{m}: {_why(last[m])}" for m in tried))
        parts.extend(skipped)
        if not candidates:
            parts.append("no candidate models")
        summary = f"all models failed (tried {', '.join(tried) or 'none'})"
        return AllModelsFailedError(f"{summary}: {' | '.join(parts)}", attempts)

    # -- one-shot ------------------------------------------------------------------------

    async def execute(self, request: Request, candidates: Sequence[ModelInfo]) -> Completion:
        attempts: list[Attempt] = []
        skipped: list[str] = []
        for model in candidates:
            reason = self._skip_reason(model)
            provider = self._provider(model)
            if reason or provider is None:
                skipped.append(reason or model.name)
                continue
            failed: BaseException | None = None
            trial = False
            try:
                for n in range(1, self.retry.max_attempts + 1):
                    started_at, t0 = time.time(), self._clock()
                    trial = self.health.begin(model) or trial
                    try:
                        self._enter(model)
                        try:
                            completion = await provider.complete(model, request)
                        finally:
                            self._leave(model)
                    except Exception as exc:
                        failed = exc
                        attempts.append(self._attempt(model, started_at, t0, exc))
                        if await self.wait_to_retry(model, exc, n):
                            continue
                        break
                    self.health.record(model, None)
                    attempts.append(self._attempt(model, started_at, t0, usage=completion.usage))
                    return dataclasses.replace(completion, attempts=tuple(attempts))
            except BaseException:  # cancelled mid-call or mid-wait: no outcome to record
                if trial:
                    self.health.release(model)
                raise
            self.health.record(model, failed)
        raise self.failure(attempts, skipped, candidates)

    # -- streaming -----------------------------------------------------------------------

    def stream(self, request: Request, candidates: Sequence[ModelInfo]) -> ExecutorStream:
        """Chunks of the first candidate that starts answering; see :class:`ExecutorStream`."""
        return ExecutorStream(self, request, candidates)


class ExecutorStream:
    """An async iterator of OpenAI ``chat.completion.chunk`` dicts, plus what happened.

    ``attempts``, ``model``, ``usage``, ``text``, ``finish_reason`` and ``error`` fill in
    as the stream runs; after it ends (or fails, or is closed early) they are final.
    Retries and fallback happen only before the first chunk; a failure after that is
    raised to the consumer. ``aclose()`` (or ``async with``) closes the upstream call.
    """

    def __init__(
        self, executor: Executor, request: Request, candidates: Sequence[ModelInfo]
    ) -> None:
        self.request = request
        self.candidates = tuple(candidates)
        self.attempts: list[Attempt] = []
        self.model: ModelInfo | None = None
        self.usage = Usage()
        self.finish_reason: str | None = None
        self.error: BaseException | None = None
        self.done = False
        self._parts: list[str] = []
        self._executor = executor
        self._gen = self._run()

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.attempts)

    def completion(self) -> Completion | None:
        """The streamed answer as a :class:`Completion` (``None`` if nothing streamed)."""
        if self.model is None:
            return None
        return Completion(
            text=self.text,
            model=self.model.name,
            tier=self.model.tier,
            usage=self.usage,
            cost_usd=self.model.usage_cost(self.usage),
            finish_reason=self.finish_reason,
            attempts=tuple(self.attempts),
        )

    def __aiter__(self) -> ExecutorStream:
        return self

    async def __anext__(self) -> Mapping[str, Any]:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        await self._gen.aclose()

    async def __aenter__(self) -> ExecutorStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _track(self, chunk: Mapping[str, Any]) -> None:
        if chunk.get("usage"):
            self.usage = usage_from_openai(chunk["usage"])
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                self._parts.append(delta["content"])
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    async def _run(self) -> AsyncGenerator[Mapping[str, Any], None]:
        ex = self._executor
        skipped: list[str] = []
        try:
            for model in self.candidates:
                reason = ex._skip_reason(model)
                provider = ex._provider(model)
                if reason or provider is None:
                    skipped.append(reason or model.name)
                    continue
                failed: BaseException | None = None
                trial = committed = False
                try:
                    for n in range(1, ex.retry.max_attempts + 1):
                        started_at, t0 = time.time(), ex._clock()
                        trial = ex.health.begin(model) or trial
                        ex._enter(model)  # counted until the stream ends or fails
                        try:
                            inner = provider.stream(model, self.request)
                            try:
                                first = await inner.__anext__()
                            except StopAsyncIteration:
                                first = None
                            except Exception as exc:
                                failed = exc
                                await _aclose(inner)
                                self.attempts.append(ex._attempt(model, started_at, t0, exc))
                                if await ex.wait_to_retry(model, exc, n):
                                    continue
                                break
                            # committed to this model: no more retries or fallback
                            self.model, committed = model, True
                            relay = self._relay(model, inner, first, started_at, t0, trial=trial)
                            try:
                                async for chunk in relay:
                                    yield chunk
                            finally:
                                await relay.aclose()  # closes the upstream call now, not at GC
                            return
                        finally:
                            ex._leave(model)
                except BaseException:  # cancelled before an outcome (the relay records its own)
                    if trial and not committed:
                        ex.health.release(model)
                    raise
                ex.health.record(model, failed)
            self.error = ex.failure(self.attempts, skipped, self.candidates)
            raise self.error
        finally:
            self.done = True

    async def _relay(
        self,
        model: ModelInfo,
        inner: AsyncIterator[Mapping[str, Any]],
        first: Mapping[str, Any] | None,
        started_at: float,
        t0: float,
        *,
        trial: bool = False,
    ) -> AsyncGenerator[Mapping[str, Any], None]:
        ex = self._executor
        error: BaseException | None = None
        kind: str | None = None
        try:
            if first is not None:
                self._track(first)
                yield first
                async for chunk in inner:
                    self._track(chunk)
                    yield chunk
        except (GeneratorExit, asyncio.CancelledError):
            kind = "cancelled"
            raise
        except Exception as exc:
            error = self.error = exc
            raise
        finally:
            # the outcome first: a cancellation at the await below must not lose it
            if kind != "cancelled":
                ex.health.record(model, error)
            elif trial:
                ex.health.release(model)
            await _aclose(inner)
            self.attempts.append(
                ex._attempt(model, started_at, t0, error, usage=self.usage, kind=kind)
            )


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        # "already running": the loop's finalizer is closing it (the stream was abandoned
        # without aclose() and garbage-collected); nothing is left to do here
        with contextlib.suppress(RuntimeError):
            await close()
