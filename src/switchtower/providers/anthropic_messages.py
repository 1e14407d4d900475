"""Anthropic Messages through the official ``anthropic`` SDK.

Requests arrive in OpenAI chat format and answers leave in it: the translation lives in
:mod:`switchtower.providers.anthropic_format`. One call per ``complete``/``stream``; the
SDK's retries are off (the executor owns retries and fallback).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import httpx2

from switchtower.config.schema import Config, ModelConfig
from switchtower.errors import UpstreamError
from switchtower.protocols import ModelInfo
from switchtower.providers.anthropic_fields import COUNT_TOKENS_FIELDS
from switchtower.providers.anthropic_format import (
    JSON_TOOL,
    StreamTranslator,
    to_anthropic,
    to_openai,
)
from switchtower.providers.batches import (
    anthropic_params,
    poll_anthropic_batch,
    submit_anthropic_batch,
)
from switchtower.providers.common import completion_from_openai, sdk_error, unreachable_error
from switchtower.providers.http_transport import sdk_http_client
from switchtower.types import BatchPoll, Capability, Completion, Request

if TYPE_CHECKING:  # the SDK is imported on first use: it takes over a second
    import anthropic


@functools.cache
def _create_params() -> frozenset[str]:
    from anthropic.resources.messages import AsyncMessages

    return frozenset(inspect.signature(AsyncMessages.create).parameters) - {"self"}


def _sdk_kwargs(body: Mapping[str, Any]) -> dict[str, Any]:
    """Body fields the SDK's ``create`` names stay keywords; the rest (``temperature``,
    ``top_p``, ``top_k`` in SDK releases that dropped them) travel in ``extra_body``,
    so the wire request is the same whichever SDK release is installed."""
    known = _create_params()
    kwargs = {k: v for k, v in body.items() if k in known}
    extra = {k: v for k, v in body.items() if k not in known}
    if extra:
        kwargs["extra_body"] = {**extra, **kwargs.get("extra_body", {})}
    return kwargs


__all__ = ["AnthropicProvider"]

DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"


class AnthropicProvider:
    """Provider ``anthropic``. Options: ``max_connections`` for the shared pool."""

    def __init__(
        self, *, config: Config | None = None, name: str = "anthropic", max_connections: int = 100
    ) -> None:
        self.name = name
        self.config = config
        self._max_connections = max_connections
        self._http: httpx2.AsyncClient | None = None
        self._clients: dict[tuple[str | None, str], anthropic.AsyncAnthropic] = {}

    def capabilities(self, spec: ModelConfig) -> tuple[Capability, ...]:
        """Claude models take tools, images and PDFs."""
        del spec
        return ("tools", "vision", "documents")

    def unavailable_reason(self, spec: ModelConfig) -> str | None:
        env = spec.api_key_env or DEFAULT_KEY_ENV
        if not os.environ.get(env):
            return f"no {env} in the environment"
        return None

    def _client(self, spec: ModelConfig) -> anthropic.AsyncAnthropic:
        import anthropic

        key = os.environ.get(spec.api_key_env or DEFAULT_KEY_ENV) or ""
        cache_key = (spec.base_url, key)
        client = self._clients.get(cache_key)
        if client is None:
            if self._http is None:
                limits = httpx2.Limits(
                    max_connections=self._max_connections,
                    max_keepalive_connections=min(20, self._max_connections),
                )
                # the SDK's client class on the lean HTTP/1.1 transport (less CPU a call)
                self._http = sdk_http_client(anthropic.DefaultAsyncHttpxClient, limits)
            client = anthropic.AsyncAnthropic(
                api_key=key, base_url=spec.base_url, max_retries=0, http_client=self._http
            )
            self._clients[cache_key] = client
        return client

    @staticmethod
    def _spec(model: ModelInfo) -> ModelConfig:
        if model.spec is not None:
            return model.spec
        return ModelConfig(name=model.name, provider=model.provider, model=model.model_id)

    @staticmethod
    def _where(spec: ModelConfig) -> str:
        return spec.base_url or "api.anthropic.com"

    def _error(
        self, exc: anthropic.AnthropicError, model: ModelInfo, spec: ModelConfig
    ) -> UpstreamError:
        import anthropic

        return sdk_error(
            exc,
            anthropic.APIStatusError,
            model=model.name,
            where=self._where(spec),
            connection_error_type=anthropic.APIConnectionError,
        )

    def _kwargs(self, model: ModelInfo, spec: ModelConfig, request: Request) -> dict[str, Any]:
        try:
            body = to_anthropic(spec.model_id, request.messages, request.params)
        except UpstreamError as exc:
            exc.model = model.name
            raise
        return _sdk_kwargs(body)

    async def complete(self, model: ModelInfo, request: Request) -> Completion:
        import anthropic

        spec = self._spec(model)
        kwargs = self._kwargs(model, spec, request)
        client = self._client(spec)
        try:
            message = await client.messages.create(**kwargs, timeout=spec.timeout_s)
        except anthropic.AnthropicError as exc:
            raise self._error(exc, model, spec) from exc
        raw = to_openai(message.model_dump(mode="json", exclude_unset=True))
        return completion_from_openai(raw, model)

    async def count_tokens(self, model: ModelInfo, request: Request) -> int:
        """The prompt's input tokens by Anthropic's ``count_tokens`` (free; no answer)."""
        import anthropic

        spec = self._spec(model)
        body = self._kwargs(model, spec, request)
        kwargs = {k: body[k] for k in COUNT_TOKENS_FIELDS if k in body}
        try:
            counted = await self._client(spec).messages.count_tokens(
                **kwargs, timeout=spec.timeout_s
            )
        except anthropic.AnthropicError as exc:
            raise self._error(exc, model, spec) from exc
        return int(counted.input_tokens)

    async def submit_batch(self, model: ModelInfo, items: Sequence[tuple[str, Request]]) -> str:
        import anthropic

        spec = self._spec(model)
        try:
            params = [(cid, anthropic_params(spec.model_id, r)) for cid, r in items]
        except UpstreamError as exc:
            exc.model = model.name
            raise
        try:
            return await submit_anthropic_batch(self._client(spec), params, timeout=spec.timeout_s)
        except anthropic.AnthropicError as exc:
            raise self._error(exc, model, spec) from exc

    async def poll_batch(self, model: ModelInfo, batch_id: str) -> BatchPoll:
        import anthropic

        spec = self._spec(model)
        try:
            return await poll_anthropic_batch(
                self._client(spec), model, batch_id, timeout=spec.timeout_s
            )
        except anthropic.AnthropicError as exc:
            raise self._error(exc, model, spec) from exc

    async def cancel_batch(self, model: ModelInfo, batch_id: str) -> None:
        import anthropic

        spec = self._spec(model)
        try:
            await self._client(spec).messages.batches.cancel(batch_id, timeout=spec.timeout_s)
        except anthropic.AnthropicError as exc:
            raise self._error(exc, model, spec) from exc

    async def stream(self, model: ModelInfo, request: Request) -> AsyncIterator[Mapping[str, Any]]:
        import anthropic

        spec = self._spec(model)
        kwargs = self._kwargs(model, spec, request)
        client = self._client(spec)
        try:
            upstream = await client.messages.create(**kwargs, stream=True, timeout=spec.timeout_s)
        except anthropic.AnthropicError as exc:
            raise self._error(exc, model, spec) from exc
        json_answer = any(t.get("name") == JSON_TOOL for t in kwargs.get("tools") or ())
        translator = StreamTranslator(model_id=spec.model_id, json_answer=json_answer)
        try:
            async for event in upstream:
                for chunk in translator.feed(event.model_dump(mode="json", exclude_unset=True)):
                    yield chunk
        except anthropic.AnthropicError as exc:
            raise self._error(exc, model, spec) from exc
        except (httpx2.TransportError, anyio.EndOfStream) as exc:
            # the SDK's stream iterator lets a dropped connection or a read timeout
            # through as the transport's own error: the same typed error as before it
            where = self._where(spec)
            raise unreachable_error(model=model.name, where=where, exc=exc) from exc
        finally:
            await upstream.close()

    async def aclose(self) -> None:
        self._clients.clear()
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()
