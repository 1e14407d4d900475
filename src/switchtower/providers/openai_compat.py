"""Any OpenAI-compatible chat endpoint through the official ``openai`` SDK.

Hosted OpenAI, Ollama, vLLM, llama.cpp's server, LM Studio, ...: one provider instance
serves every configured model whose ``provider`` is ``openai``. It keeps one
``AsyncOpenAI`` client per (base URL, key), all sharing one HTTP connection pool, and makes
exactly one call per ``complete``/``stream`` (the SDK's own retries are off: the executor
owns retries and fallback).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import httpx2

from switchtower.config.schema import Config, ModelConfig
from switchtower.errors import UpstreamError
from switchtower.protocols import ModelInfo
from switchtower.providers.common import (
    completion_from_openai,
    estimate_tokens,
    status_error,
    unreachable_error,
    usage_chunk,
)
from switchtower.types import Completion, Request, Usage

if TYPE_CHECKING:  # the SDK is imported on first use: it takes about a second
    import openai
    from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

__all__ = ["BATCH_NOT_BUILT", "OpenAIProvider", "is_loopback"]

#: the honest reason a batch entry cannot be called yet
BATCH_NOT_BUILT = "batch submission needs the async queue (not built yet)"
#: sent to OpenAI-compatible servers that need no key (Ollama, vLLM, llama.cpp)
NO_KEY = "not-needed"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
#: request fields the provider owns; everything else in ``request.params`` passes through
_OWNED = frozenset({"model", "messages", "stream"})


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


def _messages(request: Request) -> list[ChatCompletionMessageParam]:
    """The messages, passed through unchanged (OpenAI format is the request format)."""
    return cast("list[ChatCompletionMessageParam]", list(request.messages))


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
    """

    def __init__(
        self,
        *,
        config: Config | None = None,
        name: str = "openai",
        max_connections: int = 100,
        stream_usage: bool = True,
    ) -> None:
        self.name = name
        self.config = config
        self.stream_usage = stream_usage
        self._max_connections = max_connections
        self._http: httpx2.AsyncClient | None = None
        self._clients: dict[tuple[str | None, str], openai.AsyncOpenAI] = {}

    # -- availability --------------------------------------------------------------------

    def unavailable_reason(self, spec: ModelConfig) -> str | None:
        if spec.batch:
            return BATCH_NOT_BUILT
        env = _key_env(spec)
        if env and not os.environ.get(env):
            return f"no {env} in the environment"
        return None

    # -- clients -------------------------------------------------------------------------

    def _client(self, spec: ModelConfig) -> openai.AsyncOpenAI:
        import openai

        env = _key_env(spec)
        key = (os.environ.get(env) if env else None) or NO_KEY
        cache_key = (spec.base_url, key)
        client = self._clients.get(cache_key)
        if client is None:
            if self._http is None:
                limits = httpx2.Limits(
                    max_connections=self._max_connections,
                    max_keepalive_connections=min(20, self._max_connections),
                )
                self._http = openai.DefaultAsyncHttpxClient(limits=limits)
            client = openai.AsyncOpenAI(
                api_key=key, base_url=spec.base_url, max_retries=0, http_client=self._http
            )
            self._clients[cache_key] = client
        return client

    @staticmethod
    def _spec(model: ModelInfo) -> ModelConfig:
        if model.spec is not None:
            return model.spec
        return ModelConfig(name=model.name, provider=model.provider, model=model.model_id)

    def _where(self, spec: ModelConfig) -> str:
        return spec.base_url or "api.openai.com"

    def _error(self, exc: openai.OpenAIError, model: ModelInfo, spec: ModelConfig) -> UpstreamError:
        import openai

        if isinstance(exc, openai.APIStatusError):
            return status_error(
                model=model.name,
                where=self._where(spec),
                status=exc.status_code,
                headers=exc.response.headers,
                body=exc.body,
                fallback_message=exc.message,
            )
        return unreachable_error(model=model.name, where=self._where(spec), exc=exc)

    @staticmethod
    def _params(request: Request) -> dict[str, Any]:
        return {k: v for k, v in request.params.items() if k not in _OWNED}

    # -- calls ---------------------------------------------------------------------------

    async def complete(self, model: ModelInfo, request: Request) -> Completion:
        import openai

        spec = self._spec(model)
        client = self._client(spec)
        try:
            response = await client.chat.completions.create(
                model=spec.model_id,
                messages=_messages(request),
                extra_body=self._params(request),
                timeout=spec.timeout_s,
            )
        except openai.OpenAIError as exc:
            raise self._error(exc, model, spec) from exc
        raw = response.model_dump(mode="json", exclude_unset=True)
        return completion_from_openai(raw, model)

    async def stream(self, model: ModelInfo, request: Request) -> AsyncIterator[Mapping[str, Any]]:
        import openai

        spec = self._spec(model)
        client = self._client(spec)
        params = self._params(request)
        if self.stream_usage and "stream_options" not in params:
            params["stream_options"] = {"include_usage": True}
        try:
            upstream: openai.AsyncStream[
                ChatCompletionChunk
            ] = await client.chat.completions.create(
                model=spec.model_id,
                messages=_messages(request),
                stream=True,
                extra_body=params,
                timeout=spec.timeout_s,
            )
        except openai.OpenAIError as exc:
            raise self._error(exc, model, spec) from exc
        saw_usage = False
        chunk_id: str | None = None
        text_parts: list[str] = []
        try:
            async for event in upstream:
                chunk = event.model_dump(mode="json", exclude_unset=True)
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
            await upstream.close()
        if not saw_usage:
            prompt = "\n".join(str(m.get("content") or "") for m in request.messages)
            usage = Usage(estimate_tokens(prompt), estimate_tokens("".join(text_parts)))
            yield usage_chunk(
                chunk_id=chunk_id, model_id=spec.model_id, usage=usage, estimated=True
            )

    async def aclose(self) -> None:
        self._clients.clear()
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()
