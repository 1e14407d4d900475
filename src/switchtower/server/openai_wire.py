"""The OpenAI Chat Completions wire format: request validation and response shaping.

Requests are validated field by field (a bad field is a 400 naming it, as OpenAI does for
an unrecognized argument); generation parameters pass through to the upstream unchanged
in ``Request.params``. The internal format *is* OpenAI's, so responses are the upstream's
own ``chat.completion`` / ``chat.completion.chunk`` bodies with ``model`` set to the
configured model name that answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from switchtower.errors import InvalidRequestError
from switchtower.providers.anthropic_fields import (
    check_cache_control,
    check_thinking,
    check_thinking_blocks,
)
from switchtower.providers.common import json_bytes
from switchtower.server.hints import Hints
from switchtower.types import Completion, Request

__all__ = [
    "MESSAGE_ROLES",
    "ChatCall",
    "completion_body",
    "parse_chat",
    "sse_chunk",
    "sse_done",
]

MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def _number(lo: float, hi: float) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
            return f"must be a number between {lo} and {hi}"
        return None

    return check


def _integer(lo: int) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            return f"must be an integer >= {lo}"
        return None

    return check


def _typed(*types: type, what: str) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) and bool not in types:
            return f"must be {what}"
        return None if isinstance(v, types) else f"must be {what}"

    return check


def _stop(v: Any) -> str | None:
    if isinstance(v, str) or (isinstance(v, list) and all(isinstance(s, str) for s in v)):
        return None
    return "must be a string or an array of strings"


def _tools(v: Any) -> str | None:
    if not isinstance(v, list):
        return "must be an array"
    for i, tool in enumerate(v):
        if not isinstance(tool, Mapping) or not isinstance(tool.get("type"), str):
            return f"[{i}] must be an object with a string 'type'"
        fn = tool.get("function")
        if tool["type"] == "function" and (
            not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str)
        ):
            return f"[{i}].function must be an object with a string 'name'"
        if "cache_control" in tool:  # a prompt-cache breakpoint, for Anthropic models
            check_cache_control(tool["cache_control"], f"tools[{i}].cache_control")
    return None


def _tool_choice(v: Any) -> str | None:
    if isinstance(v, str | Mapping):
        return None
    return "must be a string or an object"


def _thinking(v: Any) -> str | None:
    check_thinking(v, None)  # Anthropic's extended thinking; other models leave it out
    return None


def _response_format(v: Any) -> str | None:
    if isinstance(v, Mapping) and isinstance(v.get("type"), str):
        return None
    return "must be an object with a string 'type'"


#: pass-through parameters and their checks; anything else is an unrecognized argument
PARAM_CHECKS: Mapping[str, Callable[[Any], str | None]] = {
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "max_tokens": _integer(1),
    "max_completion_tokens": _integer(1),
    "n": _integer(1),
    "stop": _stop,
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "seed": _typed(int, what="an integer"),
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _typed(bool, what="a boolean"),
    "response_format": _response_format,
    "user": _typed(str, what="a string"),
    "logit_bias": _typed(dict, what="an object"),
    "logprobs": _typed(bool, what="a boolean"),
    "top_logprobs": _integer(0),
    "reasoning_effort": _typed(str, what="a string"),
    "thinking": _thinking,
    # the rest of what the official SDK's create() sends (a test keeps this list equal
    # to the installed SDK's): passed on as given, the upstream checks the values
    "audio": _typed(dict, what="an object"),
    "function_call": _typed(str, dict, what="a string or an object"),
    "functions": _typed(list, what="an array"),
    "modalities": _typed(list, what="an array"),
    "moderation": _typed(dict, what="an object"),
    "prediction": _typed(dict, what="an object"),
    "prompt_cache_key": _typed(str, what="a string"),
    "prompt_cache_options": _typed(dict, what="an object"),
    "prompt_cache_retention": _typed(str, what="a string"),
    "safety_identifier": _typed(str, what="a string"),
    "service_tier": _typed(str, what="a string"),
    "store": _typed(bool, what="a boolean"),
    "verbosity": _typed(str, what="a string"),
    "web_search_options": _typed(dict, what="an object"),
    # not OpenAI's: vLLM's and llama.cpp's sampling extension
    "top_k": _integer(0),
}

#: fields the gateway itself reads
_OWN_FIELDS = frozenset({"model", "messages", "stream", "stream_options", "metadata"})


@dataclass(frozen=True, slots=True)
class ChatCall:
    """A validated chat-completions call."""

    request: Request
    stream: bool
    include_usage: bool
    #: told when the job finishes, if the answer is deferred
    webhook: str | None = None
    #: the request fields the answer repeats (the Responses API wire)
    echo: Mapping[str, Any] = field(default_factory=dict)


def check_messages(messages: Any) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("messages must be a non-empty array", field="messages")
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, Mapping):
            raise InvalidRequestError(f"{where} must be an object", field=where)
        role = m.get("role")
        if role not in MESSAGE_ROLES:
            raise InvalidRequestError(
                f"{where}.role must be one of {', '.join(sorted(MESSAGE_ROLES))}",
                field=f"{where}.role",
            )
        content = m.get("content")
        if content is not None and not isinstance(content, str | list):
            raise InvalidRequestError(
                f"{where}.content must be a string, an array of parts or null",
                field=f"{where}.content",
            )
        if isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                    raise InvalidRequestError(
                        f"{where}.content[{j}] must be an object with a string 'type'",
                        field=f"{where}.content[{j}]",
                    )
                if "cache_control" in part:
                    check_cache_control(
                        part["cache_control"], f"{where}.content[{j}].cache_control"
                    )
        if "cache_control" in m:
            check_cache_control(m["cache_control"], f"{where}.cache_control")
        if "thinking_blocks" in m:  # an Anthropic answer's signed thinking, given back
            blocks = check_thinking_blocks(m["thinking_blocks"], f"{where}.thinking_blocks")
            messages[i] = {**m, "thinking_blocks": blocks}  # only the fields the API takes
    return tuple(messages)


def check_params(body: Mapping[str, Any], own: frozenset[str] = _OWN_FIELDS) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, value in body.items():
        if name in own:
            continue
        check = PARAM_CHECKS.get(name)
        if check is None:
            raise InvalidRequestError(f"unrecognized request argument supplied: {name}", field=name)
        if value is None:
            continue
        problem = check(value)
        if problem is not None:
            raise InvalidRequestError(f"{name} {problem}", field=name)
        params[name] = value
    return params


def build_request(
    messages: tuple[Mapping[str, Any], ...], hints: Hints, params: Mapping[str, Any]
) -> Request:
    return Request(
        messages=messages,
        deadline=hints.deadline,
        operation=hints.operation,
        pinned_tier=hints.pinned_tier,
        max_tier=hints.max_tier,
        max_cost_usd=hints.max_cost_usd,
        value_per_success_usd=hints.value_per_success_usd,
        model=hints.model,
        params=params,
        accept_deferred=hints.accept_deferred,
        cache=hints.cache,
    )


def check_deferrable(stream: bool, hints: Hints) -> None:
    """A stream answers now: it cannot also take a job handle."""
    if stream and hints.accept_deferred:
        raise InvalidRequestError(
            "a streamed request cannot be deferred: drop stream or the async hint",
            field="stream",
        )


def parse_chat(body: Any, hints_of: Callable[[Mapping[str, Any]], Hints]) -> ChatCall:
    """Validate a ``POST /v1/chat/completions`` body into a :class:`ChatCall`."""
    if not isinstance(body, Mapping):
        raise InvalidRequestError("the body must be a JSON object", field="body")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError("stream must be a boolean", field="stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise InvalidRequestError("stream_options must be an object", field="stream_options")
    include = (options or {}).get("include_usage", False)
    if not isinstance(include, bool):
        raise InvalidRequestError(
            "stream_options.include_usage must be a boolean", field="stream_options.include_usage"
        )
    messages = check_messages(body.get("messages"))
    params = check_params(body)
    if params.get("thinking") is not None:  # its budget must fit in the answer's limit
        check_thinking(
            params["thinking"], params.get("max_completion_tokens") or params.get("max_tokens")
        )
    hints = hints_of(body)
    check_deferrable(bool(stream), hints)
    return ChatCall(build_request(messages, hints, params), bool(stream), include, hints.webhook)


def completion_body(completion: Completion, trace_id: str) -> dict[str, Any]:
    """The ``chat.completion`` returned to the client (usage always included)."""
    raw = dict(completion.raw)
    usage = completion.usage
    body: dict[str, Any] = {
        "id": raw.get("id") or f"chatcmpl-{trace_id}",
        "object": "chat.completion",
        "created": raw.get("created") or int(time.time()),
        "model": completion.model,
    }
    choices = raw.get("choices")
    if not isinstance(choices, list) or not choices:
        choices = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": completion.text},
                "finish_reason": completion.finish_reason or "stop",
            }
        ]
    body["choices"] = choices
    for key in ("system_fingerprint", "service_tier"):
        if raw.get(key) is not None:
            body[key] = raw[key]
    raw_usage = raw.get("usage")
    body["usage"] = {
        **(dict(raw_usage) if isinstance(raw_usage, Mapping) else {}),
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }
    return body


def sse_chunk(chunk: Mapping[str, Any]) -> bytes:
    return b"data: " + json_bytes(chunk) + b"\n\n"


def sse_done() -> bytes:
    return b"data: [DONE]\n\n"
