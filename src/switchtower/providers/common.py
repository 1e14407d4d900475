"""Helpers shared by the built-in providers: errors, Retry-After, OpenAI-format values.

Upstream SDK exceptions are converted here, at the edge, into the ``errors.py`` tree:

    connect error / timeout / 408   -> UpstreamUnavailableError   (retryable)
    429                             -> UpstreamRateLimitError     (retryable, retry_after)
    5xx (incl. Anthropic's 529)     -> UpstreamServerError        (retryable)
    other 4xx                       -> UpstreamRejectedError      (not retryable)
"""

from __future__ import annotations

import email.utils
import json
import time
import uuid
from collections.abc import Mapping, Sequence, Set
from datetime import UTC
from typing import Any

import orjson

from switchtower.errors import (
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamServerError,
    UpstreamUnavailableError,
)
from switchtower.protocols import ModelInfo
from switchtower.tokens import estimate_tokens
from switchtower.types import Completion, Usage

__all__ = [
    "completion_from_openai",
    "estimate_tokens",
    "json_bytes",
    "json_loads",
    "parse_retry_after",
    "sdk_error",
    "status_error",
    "unreachable_error",
    "usage_chunk",
    "usage_from_openai",
]


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _body_message(body: object) -> str:
    """The human part of an upstream error body (OpenAI and Anthropic shapes)."""
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping):
            msg = err.get("message")
            if isinstance(msg, str):
                return msg
        elif isinstance(err, str):
            return err
    if isinstance(body, str):
        return body[:500]
    return ""


def status_error(
    *,
    model: str,
    where: str,
    status: int,
    headers: Mapping[str, str] | None,
    body: object,
    fallback_message: str = "",
) -> UpstreamError:
    """The typed error for an HTTP error status from an upstream."""
    detail = _body_message(body) or fallback_message
    message = f"{model}: HTTP {status} from {where}" + (f": {detail}" if detail else "")
    if status == 429:
        return UpstreamRateLimitError(
            message, model=model, status=status, retry_after=parse_retry_after(headers)
        )
    if status >= 500:
        return UpstreamServerError(
            message, model=model, status=status, retry_after=parse_retry_after(headers)
        )
    if status == 408:
        return UpstreamUnavailableError(message, model=model, status=status)
    return UpstreamRejectedError(message, model=model, status=status)


def unreachable_error(*, model: str, where: str, exc: BaseException) -> UpstreamUnavailableError:
    """The typed error for a connection failure or timeout."""
    what = "timed out" if "timeout" in type(exc).__name__.lower() else "cannot connect"
    reason = str(exc) or type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in reason:
        reason = f"{reason} ({cause})"
    return UpstreamUnavailableError(f"{model}: {what} to {where}: {reason}", model=model)


def sdk_error(
    exc: BaseException,
    status_error_type: type[BaseException],
    *,
    model: str,
    where: str,
    connection_error_type: type[BaseException] | None = None,
) -> UpstreamError:
    """The typed error for an official SDK's exception: its ``APIStatusError`` (passed
    as ``status_error_type``; both SDKs shape it alike) maps by status, its connection
    error (``connection_error_type``) is a connection failure or timeout, and anything
    else it raises (an error event inside a stream that began, a malformed event) is the
    upstream's own failure."""
    if isinstance(exc, status_error_type):
        err: Any = exc
        if err.status_code < 300:  # an error event inside a 200 stream (Anthropic's SDK)
            return stream_event_error(err.body, model=model, message=err.message)
        return status_error(
            model=model,
            where=where,
            status=err.status_code,
            headers=err.response.headers,
            body=err.body,
            fallback_message=err.message,
        )
    if connection_error_type is not None and not isinstance(exc, connection_error_type):
        return stream_event_error(getattr(exc, "body", None), model=model, message=str(exc))
    return unreachable_error(model=model, where=where, exc=exc)


#: error types an upstream sends inside a stream -> the error it is
_EVENT_ERRORS: Mapping[str, type[UpstreamError]] = {
    "rate_limit_error": UpstreamRateLimitError,
    "invalid_request_error": UpstreamRejectedError,
}


def stream_event_error(body: object, *, model: str, message: str) -> UpstreamError:
    """An error the upstream reported inside a successful response (an error event in a
    stream, mostly): typed by its ``type`` when it has one (Anthropic's ``{"type":
    "error", "error": {"type": ...}}``, OpenAI's ``{"type": ...}``); a failing server
    otherwise."""
    kind = ""
    if isinstance(body, Mapping):
        inner = body.get("error")
        kind = str((inner if isinstance(inner, Mapping) else body).get("type") or "")
    error = _EVENT_ERRORS.get(kind, UpstreamServerError)
    return error(f"{model}: upstream error ({kind or 'untyped'}): {message}", model=model)


def usage_from_openai(usage: object) -> Usage:
    """Tokens from an OpenAI ``usage`` object: prompt-cache reads from
    ``prompt_tokens_details.cached_tokens``, cache writes (which OpenAI does not charge
    apart; Anthropic answers translated by :mod:`anthropic_format` do) from
    ``cache_creation_input_tokens``."""
    if not isinstance(usage, Mapping):
        return Usage()
    details = usage.get("prompt_tokens_details")
    read = details.get("cached_tokens") if isinstance(details, Mapping) else None
    return Usage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cache_read_tokens=int(read or 0),
        cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
        cache_write_1h_tokens=int(usage.get("cache_creation_1h_input_tokens") or 0),
    )


def completion_from_openai(raw: Mapping[str, Any], model: ModelInfo) -> Completion:
    """A :class:`Completion` from an OpenAI ``chat.completion`` dict, priced."""
    choices = raw.get("choices") or [{}]
    first = choices[0] if isinstance(choices[0], Mapping) else {}
    message = first.get("message") or {}
    content = message.get("content") if isinstance(message, Mapping) else None
    usage = usage_from_openai(raw.get("usage"))
    return Completion(
        text=content if isinstance(content, str) else "",
        model=model.name,
        tier=model.tier,
        usage=usage,
        cost_usd=model.usage_cost(usage),
        finish_reason=first.get("finish_reason"),
        raw=dict(raw),
    )


def usage_chunk(
    *, chunk_id: str | None, model_id: str, usage: Usage, estimated: bool = False
) -> dict[str, Any]:
    """The final OpenAI ``chat.completion.chunk`` carrying ``usage`` (empty ``choices``)."""
    body: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }
    if estimated:
        # not an OpenAI field; clients ignore it, traces can tell counted from estimated
        body["estimated"] = True
    return {
        "id": chunk_id or f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model_id,
        "choices": [],
        "usage": body,
    }


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _plain(value: object) -> object:
    """JSON for the non-dict mappings and other sequences a request may hold."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence | Set) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_bytes(value: object) -> bytes:
    """Compact UTF-8 JSON (orjson; the standard library for what orjson refuses, such as
    integers beyond 64 bits or non-string keys)."""
    try:
        return orjson.dumps(value, default=_plain)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain).encode()


def json_loads(data: bytes | str) -> Any:
    """Parse JSON (orjson); raises ValueError on malformed input, like ``json.loads``."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # the standard library accepts a little more (NaN, huge integers)
        try:
            return json.loads(data)
        except RecursionError:  # orjson refuses nesting past 1024 levels; so does this
            raise ValueError("JSON nested too deeply (more than 1024 levels)") from None
