"""Any OpenAI-compatible chat endpoint through the official ``openai`` SDK.

Hosted OpenAI, Ollama, vLLM, llama.cpp's server, LM Studio, ...: one provider instance
serves every configured model whose ``provider`` is ``openai``. It keeps one
``AsyncOpenAI`` client per (base URL, key), all sharing one HTTP connection pool, and makes
exactly one call per ``complete``/``stream`` (the SDK's own retries are off: the executor
owns retries and fallback).

The hot path is lean: the internal format *is* OpenAI's, so the provider sends the request
body as JSON bytes through the SDK's generic ``client.post(..., cast_to=httpx2.Response)``
(auth, headers, timeouts, status errors and exceptions are still the SDK's) and parses the
answer, or the SSE lines of a stream, itself: no per-request request-param transformation
and no pydantic response models, which cost more CPU than everything else a gateway
request does. The SDK's HTTP client runs on :class:`~switchtower.providers.http_transport.
LeanTransport` (HTTP/1.1 on asyncio, parsed by httptools): less CPU per call than the
SDK's aiohttp adaptor (``transport="aiohttp"``) or its default httpx transport
(``transport="httpx"``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

import anyio
import httpx2

from switchtower.config.schema import Config, ModelConfig
from switchtower.errors import UpstreamError, UpstreamServerError
from switchtower.protocols import ModelInfo
from switchtower.providers.anthropic_fields import (
    ANTHROPIC_PARAMS,
    for_openai,
    has_anthropic_fields,
    tool_images_out,
)
from switchtower.providers.batches import poll_openai_batch, submit_openai_batch
from switchtower.providers.common import (
    completion_from_openai,
    estimate_tokens,
    json_bytes,
    json_loads,
    sdk_error,
    unreachable_error,
    usage_chunk,
)
from switchtower.providers.http_transport import sdk_http_client
from switchtower.tokens import estimate_message_tokens
from switchtower.types import BatchPoll, Capability, Completion, Request, Usage

if TYPE_CHECKING:  # the SDK is imported on first use: it takes about a second
    import openai

__all__ = ["OpenAIProvider", "is_loopback"]
#: sent to OpenAI-compatible servers that need no key (Ollama, vLLM, llama.cpp)
NO_KEY = "not-needed"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
#: request fields the provider owns; everything else in ``request.params`` passes through
_OWNED = frozenset({"model", "messages", "stream"})
_PATH = "/chat/completions"
Transport = Literal["auto", "aiohttp", "httpx"]
#: ``stream`` for ``client.post``: typed ``bool`` so the overload returning ``cast_to``
#: applies (the SDK returns the raw ``httpx2.Response`` for that cast_to, streamed)
_STREAM: bool = True


def _openai_api(spec: ModelConfig) -> bool:
    """Whether ``spec`` calls OpenAI's own API: its ``base_url``, else the SDK's
    ``OPENAI_BASE_URL``, else the SDK's default, is api.openai.com."""
    url = spec.base_url or os.environ.get("OPENAI_BASE_URL")
    host = ((urlsplit(url).hostname or "") if url else "api.openai.com").lower()
    # regional hosts (data residency) are OpenAI's API too: eu.api.openai.com
    return host == "api.openai.com" or host.endswith(".api.openai.com")


def _for_api(body: dict[str, Any], spec: ModelConfig) -> dict[str, Any]:
    """OpenAI's reasoning models (o-series, gpt-5) refuse ``max_tokens`` and every model
    there takes ``max_completion_tokens``: on OpenAI's own API the limit goes under that
    name, so routing a request to a reasoning model does not turn it into a 400. Other
    servers keep ``max_tokens``, which they all read."""
    if "max_tokens" in body and "max_completion_tokens" not in body and _openai_api(spec):
        body["max_completion_tokens"] = body.pop("max_tokens")
    return body


def is_loopback(base_url: str | None) -> bool:
    """True for http://localhost..., 127.x.x.x and ::1 (servers on this machine)."""
    if not base_url:
        return False
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class _Target:
    """What every call to one configured model needs, resolved once."""

    client: openai.AsyncOpenAI
    model_id: str
    options: openai.RequestOptions  # the SDK's per-request options (the timeout)
    where: str
    #: the chat completions URL, joined to the client's base URL as the SDK joins a path
    #: (given absolute, the SDK does not parse and join it again on every call)
    url: str


def _key_env(spec: ModelConfig) -> str | None:
    """The key variable: the configured one; hosted OpenAI defaults to OPENAI_API_KEY."""
    if spec.api_key_env:
        return spec.api_key_env
    return None if spec.base_url else DEFAULT_KEY_ENV


class OpenAIProvider:
    """Provider ``openai``: chat completions against any OpenAI-compatible endpoint.

    Options (factory keywords): ``max_connections`` for the shared pool (default 100),
    ``stream_usage`` (default true) asks for a final usage chunk with
    ``stream_options.include_usage``; when an upstream sends none, a final chunk with an
    estimated usage (marked ``"estimated": true``) is added so callers can always price.
    ``transport``: ``"auto"`` (the lean HTTP/1.1 transport; the SDK's default one when a
    ``*_PROXY`` variable is set), ``"aiohttp"`` (the SDK's
    ``DefaultAioHttpClient``), ``"httpx"`` (the SDK's default).
    A model's option ``keep_cache_control`` (default false): Anthropic's prompt-cache
    breakpoints (``cache_control`` on parts and tools, from ``/v1/messages`` or an
    OpenAI-format client) are left out of the body, since OpenAI caches by itself and
    strict servers refuse unknown fields; true sends them (an upstream that understands
    them, such as a gateway in front of Anthropic models). Signed thinking and the
    ``thinking`` parameter never go (see :mod:`anthropic_fields`).
    """

    def __init__(
        self,
        *,
        config: Config | None = None,
        name: str = "openai",
        max_connections: int = 100,
        stream_usage: bool = True,
        transport: Transport = "auto",
    ) -> None:
        self.name = name
        self.config = config
        self.stream_usage = stream_usage
        self.transport = transport
        self._max_connections = max_connections
        self._http: httpx2.AsyncClient | None = None
        self._clients: dict[tuple[str | None, str], openai.AsyncOpenAI] = {}
        self._targets: dict[tuple[str, str, str | None, str, float], _Target] = {}

    # -- availability --------------------------------------------------------------------

    def capabilities(self, spec: ModelConfig) -> tuple[Capability, ...]:
        """OpenAI's own API (api.openai.com: the entry's ``base_url``, else the SDK's
        ``OPENAI_BASE_URL``, else the default) takes images and PDFs; another OpenAI-compatible
        server (vLLM, Ollama, llama-server) is not assumed to: a vision model there says
        so in its entry's ``capabilities``."""
        return ("tools", "vision", "documents") if _openai_api(spec) else ("tools",)

    def unavailable_reason(self, spec: ModelConfig) -> str | None:
        env = _key_env(spec)
        if env and not os.environ.get(env):
            return f"no {env} in the environment"
        return None

    # -- clients -------------------------------------------------------------------------

    def prepare(self) -> None:
        """Import the SDK and open the shared HTTP client now (a server calls this at
        start-up, so the first request does not pay the second the import takes)."""
        self._http_client()

    def _http_client(self) -> httpx2.AsyncClient:
        import openai

        if self._http is None:
            limits = httpx2.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=min(20, self._max_connections),
            )
            if self.transport == "auto":
                self._http = sdk_http_client(openai.DefaultAsyncHttpxClient, limits)
            elif self.transport == "aiohttp":
                self._http = openai.DefaultAioHttpClient(limits=limits)
            else:
                self._http = openai.DefaultAsyncHttpxClient(limits=limits)
        return self._http

    def _client(self, spec: ModelConfig) -> openai.AsyncOpenAI:
        import openai

        env = _key_env(spec)
        key = (os.environ.get(env) if env else None) or NO_KEY
        cache_key = (spec.base_url, key)
        client = self._clients.get(cache_key)
        if client is None:
            client = openai.AsyncOpenAI(
                api_key=key, base_url=spec.base_url, max_retries=0, http_client=self._http_client()
            )
            self._clients[cache_key] = client
        return client

    def _target(self, model: ModelInfo) -> tuple[_Target, ModelConfig]:
        """The client and call options for a model (cached; the key is re-read each call,
        so a rotated key in the environment takes effect without a restart)."""
        spec = self._spec(model)
        env = _key_env(spec)
        key = (os.environ.get(env) if env else None) or NO_KEY
        cache_key = (model.name, spec.model_id, spec.base_url, key, spec.timeout_s)
        target = self._targets.get(cache_key)
        if target is None:
            client = self._client(spec)
            base = client.base_url
            target = _Target(
                client=client,
                model_id=spec.model_id,
                options={"timeout": spec.timeout_s},
                where=self._where(spec),
                url=str(base.copy_with(raw_path=base.raw_path + _PATH.lstrip("/").encode())),
            )
            self._targets[cache_key] = target
        return target, spec

    @staticmethod
    def _spec(model: ModelInfo) -> ModelConfig:
        if model.spec is not None:
            return model.spec
        return ModelConfig(name=model.name, provider=model.provider, model=model.model_id)

    def _where(self, spec: ModelConfig) -> str:
        return spec.base_url or "api.openai.com"

    def _error(self, exc: openai.OpenAIError, model: ModelInfo, spec: ModelConfig) -> UpstreamError:
        import openai

        return sdk_error(
            exc,
            openai.APIStatusError,
            model=model.name,
            where=self._where(spec),
            connection_error_type=openai.APIConnectionError,
        )

    @staticmethod
    def _body_dict(
        request: Request, model_id: str, *, files: bool = False, **extra: Any
    ) -> dict[str, Any]:
        """The request body: model, messages (OpenAI format is the request format; what
        only Anthropic reads reworked, PDFs as ``file`` parts with ``files``), then every
        pass-through parameter."""
        messages = tool_images_out(request.messages, files=files)
        body: dict[str, Any] = {"model": model_id, "messages": messages}
        for k, v in request.params.items():
            if k not in _OWNED and k not in ANTHROPIC_PARAMS:
                body[k] = v
        body.update(extra)
        return body

    @staticmethod
    def _keeps_marks(spec: ModelConfig) -> bool:
        return bool(spec.options.get("keep_cache_control", False))

    def _body(self, request: Request, spec: ModelConfig, model_id: str, **extra: Any) -> bytes:
        files = _openai_api(spec)
        body = _for_api(self._body_dict(request, model_id, files=files, **extra), spec)
        if has_anthropic_fields(body):  # marks, signed thinking: a look, no serialising
            body = for_openai(body, keep_cache_control=self._keeps_marks(spec))
        return json_bytes(body)

    # -- batches (the job queue's batch entries) ------------------------------------------

    async def submit_batch(self, model: ModelInfo, items: Sequence[tuple[str, Request]]) -> str:
        import openai

        spec = self._spec(model)
        keep = self._keeps_marks(spec)
        bodies = [
            (
                cid,
                for_openai(
                    _for_api(self._body_dict(r, spec.model_id, files=_openai_api(spec)), spec),
                    keep_cache_control=keep,
                ),
            )
            for cid, r in items
        ]
        try:
            return await submit_openai_batch(self._client(spec), bodies, timeout=spec.timeout_s)
        except openai.OpenAIError as exc:
            raise self._error(exc, model, spec) from exc

    async def poll_batch(self, model: ModelInfo, batch_id: str) -> BatchPoll:
        import openai

        spec = self._spec(model)
        try:
            return await poll_openai_batch(
                self._client(spec), model, batch_id, timeout=spec.timeout_s
            )
        except openai.OpenAIError as exc:
            raise self._error(exc, model, spec) from exc

    async def cancel_batch(self, model: ModelInfo, batch_id: str) -> None:
        import openai

        spec = self._spec(model)
        try:
            await self._client(spec).batches.cancel(batch_id, timeout=spec.timeout_s)
        except openai.OpenAIError as exc:
            raise self._error(exc, model, spec) from exc

    # -- calls ---------------------------------------------------------------------------

    async def complete(self, model: ModelInfo, request: Request) -> Completion:
        import openai

        target, spec = self._target(model)
        try:
            response = await target.client.post(
                target.url,
                cast_to=httpx2.Response,
                content=self._body(request, spec, target.model_id),
                options=target.options,
            )
            raw = json_loads(response.content)
        except openai.OpenAIError as exc:
            raise self._error(exc, model, spec) from exc
        except ValueError as exc:  # not JSON: the upstream is not OpenAI-compatible
            raise unreachable_error(model=model.name, where=target.where, exc=exc) from exc
        if not isinstance(raw, Mapping):
            raise unreachable_error(
                model=model.name,
                where=target.where,
                exc=ValueError(f"expected a JSON object, got {type(raw).__name__}"),
            )
        return completion_from_openai(raw, model)

    async def stream(self, model: ModelInfo, request: Request) -> AsyncIterator[Mapping[str, Any]]:
        import openai

        target, spec = self._target(model)
        extra: dict[str, Any] = {"stream": True}
        if self.stream_usage and "stream_options" not in request.params:
            extra["stream_options"] = {"include_usage": True}
        try:
            response = cast(
                httpx2.Response,
                await target.client.post(
                    target.url,
                    cast_to=httpx2.Response,
                    content=self._body(request, spec, target.model_id, **extra),
                    options=target.options,
                    stream=_STREAM,  # the raw response, body unread (cast_to decides)
                ),
            )
        except openai.OpenAIError as exc:
            raise self._error(exc, model, spec) from exc
        saw_usage = saw_chunk = False
        chunk_id: str | None = None
        text_parts: list[str] = []
        try:
            async for chunk in _sse_chunks(response):
                saw_chunk = True
                chunk_id = chunk_id or chunk.get("id")
                if chunk.get("usage"):
                    saw_usage = True
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta") or {}
                    if isinstance(delta.get("content"), str):
                        text_parts.append(delta["content"])
                yield chunk
        except openai.OpenAIError as exc:
            raise self._error(exc, model, spec) from exc
        finally:
            await response.aclose()
        if not saw_chunk:
            # e.g. llama-cpp-python's server answers 200, then fails inside the stream: an
            # answer that never started is a failure (the next model is tried), not a
            # successful empty one
            raise UpstreamServerError(
                f"{model.name}: the stream ended before its first chunk", model=model.name
            )
        if not saw_usage:
            usage = Usage(
                estimate_message_tokens(request.messages), estimate_tokens("".join(text_parts))
            )
            yield usage_chunk(
                chunk_id=chunk_id, model_id=spec.model_id, usage=usage, estimated=True
            )

    async def aclose(self) -> None:
        self._clients.clear()
        self._targets.clear()
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()


async def _sse_chunks(response: httpx2.Response) -> AsyncIterator[dict[str, Any]]:
    """The JSON ``data`` of each server-sent event, until ``[DONE]`` or the end.

    Errors as the SDK raises them: an ``{"error": ...}`` event is ``openai.APIError``,
    a broken or timed-out connection ``APIConnectionError`` / ``APITimeoutError``.
    """
    import openai

    done = False
    try:
        # after [DONE] the rest of the body is still read: the connection is then reused
        async for data in _sse_data(response):
            if done:
                continue
            if data.startswith(b"[DONE]"):
                done = True
                continue
            try:
                chunk = json_loads(data)
            except ValueError as exc:
                raise openai.APIError(
                    f"malformed stream event: {exc}", request=response.request, body=None
                ) from exc
            if not isinstance(chunk, dict):
                continue
            error = chunk.get("error")
            if error:
                message = error.get("message") if isinstance(error, Mapping) else None
                raise openai.APIError(
                    message
                    if isinstance(message, str) and message
                    else "An error occurred during streaming",
                    request=response.request,
                    body=error,
                )
            yield chunk
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.request) from exc
    except (httpx2.RequestError, anyio.EndOfStream) as exc:
        raise openai.APIConnectionError(request=response.request) from exc


async def _sse_data(response: httpx2.Response) -> AsyncIterator[bytes]:
    """The ``data`` of each event (multi-line data joined by newlines), comments and other
    fields skipped. Lines end with LF or CRLF (what every OpenAI-compatible server sends)."""
    pending = b""
    data: list[bytes] = []
    async for block in response.aiter_bytes():
        lines = (pending + block).split(b"\n")
        pending = lines.pop()
        for raw_line in lines:
            line = raw_line[:-1] if raw_line.endswith(b"\r") else raw_line
            if not line:
                if data:
                    yield b"\n".join(data)
                    data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
    if pending.startswith(b"data:"):
        value = pending[5:].rstrip(b"\r")
        data.append(value[1:] if value.startswith(b" ") else value)
    if data:
        yield b"\n".join(data)
