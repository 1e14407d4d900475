"""The Anthropic Messages wire format on top of the internal OpenAI format.

Requests: ``system`` -> a system message; ``tool_use`` blocks -> assistant ``tool_calls``;
``tool_result`` blocks -> ``tool`` messages (placed before the rest of that user turn, as
OpenAI requires); images -> ``image_url`` parts; ``tools`` / ``tool_choice`` /
``stop_sequences`` / ``max_tokens`` mapped. Responses: ``chat.completion`` -> a
``message``; streams: ``chat.completion.chunk`` dicts -> the event sequence the
``anthropic`` SDK consumes (message_start, content_block_start, content_block_delta,
content_block_stop, message_delta, message_stop).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from switchtower.errors import InvalidRequestError
from switchtower.providers.anthropic_fields import (
    ANTHROPIC_BLOCK,
    CARRIED_BLOCKS,
    COUNT_TOKENS_FIELDS,
    check_cache_control,
    check_thinking,
    check_thinking_block,
)
from switchtower.providers.common import json_bytes, usage_from_openai
from switchtower.server.hints import Hints
from switchtower.server.openai_wire import ChatCall, build_request, check_deferrable
from switchtower.types import Completion, Request, Usage

__all__ = [
    "STOP_REASONS",
    "AnthropicStream",
    "message_body",
    "parse_count_tokens",
    "parse_messages",
    "sse_event",
]

#: OpenAI finish_reason -> Anthropic stop_reason
STOP_REASONS: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

_KNOWN = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
    }
)


def _bad(field: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(f"{field}: {message}", field=field)


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, block in enumerate(content):
            if not isinstance(block, Mapping) or not isinstance(block.get("text"), str):
                raise _bad(f"{where}[{i}]", "must be a text block")
            parts.append(block["text"])
        return "\n".join(parts)
    raise _bad(where, "must be a string or an array of text blocks")


def _cache_mark(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A block's prompt-cache breakpoint (``cache_control``), checked, as a dict to put
    on the internal part (empty when it has none): the Anthropic provider gives it back
    to the API, OpenAI-compatible providers leave it out."""
    mark = block.get("cache_control")
    if mark is None:
        return {}
    return {"cache_control": check_cache_control(mark, f"{where}.cache_control")}


def _text_parts(content: Any, where: str) -> str | list[dict[str, Any]]:
    """System text: one string, or text parts when a block marks a cache breakpoint."""
    text = _text_of(content, where)
    if not isinstance(content, list):
        return text
    marks = [_cache_mark(block, f"{where}[{i}]") for i, block in enumerate(content)]
    if not any(marks):
        return text
    return [
        {"type": "text", "text": block["text"], **mark}
        for block, mark in zip(content, marks, strict=True)
    ]


def _image_part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if isinstance(source, Mapping) and source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif isinstance(source, Mapping) and source.get("type") == "url":
        url = str(source.get("url"))
    else:
        raise _bad(f"{where}.source", "must be a base64 or url image source")
    return {"type": "image_url", "image_url": {"url": url}, **_cache_mark(block, where)}


def _carried(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A block only Anthropic models read (a PDF ``document``, a ``search_result``),
    kept whole for them; other upstreams get a line saying it was there."""
    _cache_mark(block, where)  # checked like any other mark; it travels in the block
    return {"type": ANTHROPIC_BLOCK, "block": dict(block)}


def _tool_message(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A ``tool_result`` block -> a ``tool`` message: its text (an error marked as such),
    its images as ``image_url`` parts, and the prompt-cache marks of the block (on the
    message) and of its inner blocks (on their parts)."""
    result = block.get("content", "")
    parts: list[dict[str, Any]] = []
    if isinstance(result, list):
        for i, inner in enumerate(result):
            iw = f"{where}.content[{i}]"
            kind = inner.get("type") if isinstance(inner, Mapping) else None
            if kind == "image":
                parts.append(_image_part(inner, iw))
            elif kind == "text":
                parts.append(
                    {"type": "text", "text": _text_of([inner], iw), **_cache_mark(inner, iw)}
                )
            elif kind in CARRIED_BLOCKS:
                parts.append(_carried(inner, iw))
            else:
                raise _bad(f"{iw}.type", "a tool result holds text, image and document blocks")
    else:
        parts.append({"type": "text", "text": _text_of(result, f"{where}.content")})
    if block.get("is_error"):  # said in words: OpenAI's tool messages have no flag
        if parts and parts[0]["type"] == "text":
            parts[0] = {**parts[0], "text": f"[tool error] {parts[0]['text']}"}
        else:
            parts.insert(0, {"type": "text", "text": "[tool error]"})
    plain = all(p["type"] == "text" and "cache_control" not in p for p in parts)
    return {
        "role": "tool",
        "tool_call_id": str(block.get("tool_use_id", "")),
        "content": "\n".join(p["text"] for p in parts) if plain else parts,
        **_cache_mark(block, where),
        **({"is_error": True} if block.get("is_error") is True else {}),
    }


def _convert_turn(role: str, content: Any, where: str) -> list[dict[str, Any]]:
    """One Anthropic message -> one or more OpenAI messages."""
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise _bad(f"{where}.content", "must be a string or an array of content blocks")
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    thinking: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        bw = f"{where}.content[{i}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if not isinstance(kind, str):
            raise _bad(bw, "must be an object with a string 'type'")
        if kind == "text":
            parts.append({"type": "text", "text": _text_of([block], bw), **_cache_mark(block, bw)})
        elif kind == "image" and role == "user":
            parts.append(_image_part(block, bw))
        elif kind in CARRIED_BLOCKS and role == "user":
            parts.append(_carried(block, bw))
        elif kind == "tool_result" and role == "user":
            tool_messages.append(_tool_message(block, bw))
        elif kind == "tool_use" and role == "assistant":
            if not isinstance(block.get("name"), str):
                raise _bad(f"{bw}.name", "must be a string")
            tool_calls.append(
                {
                    "id": str(block.get("id", "")),
                    "type": "function",
                    "function": {
                        "name": block["name"],
                        "arguments": json.dumps(block.get("input") or {}),
                    },
                    **_cache_mark(block, bw),
                }
            )
        elif kind in ("thinking", "redacted_thinking") and role == "assistant":
            thinking.append(check_thinking_block(block, bw))
        else:
            raise _bad(f"{bw}.type", f"content block {kind!r} is not supported in a {role} turn")
    out = list(tool_messages)
    if role == "assistant":
        text = "".join(p["text"] for p in parts if p["type"] == "text")
        marked = any("cache_control" in p for p in parts)
        msg: dict[str, Any] = {"role": "assistant", "content": (parts if marked else text) or None}
        if tool_calls:
            msg["tool_calls"] = tool_calls
        if thinking:  # given back verbatim to Anthropic (signed), left out for the rest
            msg["thinking_blocks"] = thinking
        if text or tool_calls or thinking:  # a turn cut off while thinking is one too
            out.append(msg)
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _messages(body: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    out: list[dict[str, Any]] = []
    system = body.get("system")
    if system is not None:
        out.append({"role": "system", "content": _text_parts(system, "system")})
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "must be a non-empty array")
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, Mapping):
            raise _bad(where, "must be an object")
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise _bad(f"{where}.role", "must be 'user' or 'assistant'")
        out.extend(_convert_turn(role, m.get("content"), where))
    return tuple(out)


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _bad("tools", "must be an array")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            raise _bad(f"tools[{i}]", "must be an object with a string 'name'")
        schema = tool.get("input_schema")
        if not isinstance(schema, Mapping):
            raise _bad(f"tools[{i}].input_schema", "must be a JSON schema object")
        fn: dict[str, Any] = {"name": tool["name"], "parameters": dict(schema)}
        if isinstance(tool.get("description"), str):
            fn["description"] = tool["description"]
        out.append({"type": "function", "function": fn, **_cache_mark(tool, f"tools[{i}]")})
    return out


def _tool_choice(choice: Any, params: dict[str, Any]) -> None:
    if not isinstance(choice, Mapping) or not isinstance(choice.get("type"), str):
        raise _bad("tool_choice", "must be an object with a string 'type'")
    kind = choice["type"]
    mapped: dict[str, Callable[[], Any]] = {
        "auto": lambda: "auto",
        "any": lambda: "required",
        "none": lambda: "none",
        "tool": lambda: {"type": "function", "function": {"name": str(choice.get("name"))}},
    }
    if kind not in mapped:
        raise _bad("tool_choice.type", "must be auto, any, tool or none")
    params["tool_choice"] = mapped[kind]()
    if choice.get("disable_parallel_tool_use") is True:
        params["parallel_tool_calls"] = False


def _number(body: Mapping[str, Any], name: str, lo: float, hi: float) -> float | None:
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise _bad(name, f"must be a number between {lo} and {hi}")
    return float(v)


def _params(body: Mapping[str, Any]) -> dict[str, Any]:
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise _bad("max_tokens", "is required and must be an integer >= 1")
    params: dict[str, Any] = {"max_tokens": max_tokens}
    for name, lo, hi in (("temperature", 0.0, 1.0), ("top_p", 0.0, 1.0)):
        value = _number(body, name, lo, hi)
        if value is not None:
            params[name] = value
    top_k = body.get("top_k")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise _bad("top_k", "must be an integer >= 0")
        params["top_k"] = top_k
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise _bad("stop_sequences", "must be an array of strings")
        params["stop"] = stops
    if body.get("tools") is not None:
        params["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], params)
    _thinking(body, params)
    return params


def _thinking(body: Mapping[str, Any], params: dict[str, Any]) -> None:
    """``thinking``, checked: an Anthropic model's parameter, others leave it out."""
    if body.get("thinking") is not None:
        params["thinking"] = check_thinking(body["thinking"], params.get("max_tokens"))


def parse_messages(body: Any, hints_of: Callable[[Mapping[str, Any]], Hints]) -> ChatCall:
    """Validate a ``POST /v1/messages`` body into the internal OpenAI-format call."""
    if not isinstance(body, Mapping):
        raise _bad("body", "must be a JSON object")
    for name in body:
        if name not in _KNOWN:
            raise _bad(name, "extra inputs are not permitted")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream", "must be a boolean")
    messages = _messages(body)
    params = _params(body)
    hints = hints_of(body)
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("user_id"), str):
        params["user"] = metadata["user_id"]  # an Anthropic model gets it back as such
    check_deferrable(bool(stream), hints)
    return ChatCall(build_request(messages, hints, params), bool(stream), True, hints.webhook)


_COUNT_KNOWN = frozenset(COUNT_TOKENS_FIELDS)


def parse_count_tokens(body: Any) -> tuple[str, Request]:
    """Validate a ``POST /v1/messages/count_tokens`` body (a message request without
    ``max_tokens``): the model named, and the prompt as an internal request."""
    if not isinstance(body, Mapping):
        raise _bad("body", "must be a JSON object")
    for name in body:
        if name not in _COUNT_KNOWN:
            raise _bad(name, "extra inputs are not permitted")
    if not isinstance(body.get("model"), str):
        raise _bad("model", "is required and must be a string")
    params: dict[str, Any] = {}
    if body.get("tools") is not None:
        params["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], params)
    _thinking(body, params)
    return body["model"], Request(messages=_messages(body), params=params)


def _content_blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks = [dict(b) for b in message.get("thinking_blocks") or () if isinstance(b, Mapping)]
    text = message.get("content")
    if isinstance(text, str) and text:
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id") or "toolu_unknown",
                "name": fn.get("name", ""),
                "input": _parse_arguments(fn.get("arguments")),
            }
        )
    return blocks or [{"type": "text", "text": ""}]


def _parse_arguments(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, Mapping):
        return dict(arguments)
    try:
        value = json.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except json.JSONDecodeError:
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}


def _usage(usage: Usage) -> dict[str, Any]:
    """Anthropic's usage: ``input_tokens`` leaves out the prompt-cache reads and writes,
    which have their own counts (writes split by how long they last)."""
    out: dict[str, Any] = {
        "input_tokens": usage.uncached_input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.cache_write_tokens:
        hour = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
        out["cache_creation"] = {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens - hour,
            "ephemeral_1h_input_tokens": hour,
        }
    return out


def message_body(completion: Completion, trace_id: str) -> dict[str, Any]:
    """A ``message`` from the OpenAI-format completion."""
    choices = completion.raw.get("choices") or []
    first = choices[0] if choices and isinstance(choices[0], Mapping) else {}
    message = first.get("message") or {"content": completion.text}
    finish = first.get("finish_reason") or completion.finish_reason
    reason, sequence = _stop(finish, first)
    return {
        "id": f"msg_{trace_id}",
        "type": "message",
        "role": "assistant",
        "model": completion.model,
        "content": _content_blocks(message),
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": _usage(completion.usage),
    }


def _stop(finish: str | None, choice: Mapping[str, Any]) -> tuple[str, str | None]:
    """Anthropic's ``stop_reason`` and ``stop_sequence``: a stop sequence is known when
    an Anthropic upstream said which (OpenAI's ``finish_reason: stop`` cannot)."""
    sequence = choice.get("stop_sequence")
    if (finish or "stop") == "stop" and isinstance(sequence, str) and sequence:
        return "stop_sequence", sequence
    return STOP_REASONS.get(finish or "stop", "end_turn"), None


def sse_event(event: str, data: Mapping[str, Any]) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (event.encode(), json_bytes(data))


class AnthropicStream:
    """Turns ``chat.completion.chunk`` dicts into Anthropic stream events (as bytes)."""

    def __init__(self, message_id: str, model: str, input_tokens: int) -> None:
        self.message_id = message_id
        self.model = model
        self.usage = Usage(input_tokens, 0)
        self.finish_reason: str | None = None
        #: the choice that carried the finish reason (and maybe the stop sequence)
        self._choice: Mapping[str, Any] = {}
        self._index = -1
        self._open: str | None = None  # "text" or "tool:<openai index>"

    def start(self) -> list[bytes]:
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(self.usage),
        }
        return [sse_event("message_start", {"type": "message_start", "message": message})]

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        return [
            sse_event("content_block_stop", {"type": "content_block_stop", "index": self._index})
        ]

    def _begin(self, key: str, block: dict[str, Any]) -> list[bytes]:
        out = self._close()
        self._index += 1
        self._open = key
        out.append(
            sse_event(
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        )
        return out

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return sse_event(
            "content_block_delta",
            {"type": "content_block_delta", "index": self._index, "delta": delta},
        )

    def _thinking(self, delta: Mapping[str, Any]) -> list[bytes]:
        """Thinking: ``reasoning_content`` deltas are its text as it streams, a
        ``thinking_blocks`` delta carries each block whole once signed (an Anthropic
        model's, from :class:`StreamTranslator`): its signature closes the block."""
        out: list[bytes] = []
        reasoning = delta.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            out += self._open_thinking()
            out.append(self._delta({"type": "thinking_delta", "thinking": reasoning}))
        blocks = delta.get("thinking_blocks")
        for block in blocks if isinstance(blocks, list) else ():
            if not isinstance(block, Mapping):
                continue
            if block.get("type") == "redacted_thinking":
                redacted = {"type": "redacted_thinking", "data": block.get("data", "")}
                out += self._begin("redacted", redacted)
                continue
            if self._open != "thinking":  # signed text that never streamed: all at once
                out += self._open_thinking()
                text = block.get("thinking", "")
                out.append(self._delta({"type": "thinking_delta", "thinking": text}))
            signed = {"type": "signature_delta", "signature": block.get("signature", "")}
            out.append(self._delta(signed))
            out += self._close()
        return out

    def _open_thinking(self) -> list[bytes]:
        if self._open == "thinking":
            return []
        return self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""})

    def feed(self, chunk: Mapping[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        usage = chunk.get("usage")
        if isinstance(usage, Mapping):
            self.usage = usage_from_openai(usage)
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            out += self._thinking(delta)
            text = delta.get("content")
            if isinstance(text, str) and text:
                if self._open != "text":
                    out += self._begin("text", {"type": "text", "text": ""})
                out.append(self._delta({"type": "text_delta", "text": text}))
            for call in delta.get("tool_calls") or ():
                key = f"tool:{call.get('index', 0)}"
                fn = call.get("function") or {}
                if self._open != key:
                    block: dict[str, Any] = {
                        "type": "tool_use",
                        "id": call.get("id") or f"toolu_{self.message_id}_{self._index + 1}",
                        "name": fn.get("name") or "",
                        "input": {},
                    }
                    out += self._begin(key, block)
                args = fn.get("arguments")
                if isinstance(args, str) and args:
                    out.append(self._delta({"type": "input_json_delta", "partial_json": args}))
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
                self._choice = choice
        return out

    def finish(self) -> list[bytes]:
        out = self._close()
        if self._index < 0:  # the SDK expects at least one block
            out += self._begin("text", {"type": "text", "text": ""})
            out += self._close()
        out.append(
            sse_event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": dict(
                        zip(
                            ("stop_reason", "stop_sequence"),
                            _stop(self.finish_reason, self._choice),
                            strict=True,
                        )
                    ),
                    "usage": _usage(self.usage),
                },
            )
        )
        out.append(sse_event("message_stop", {"type": "message_stop"}))
        return out

    def failed(self, kind: str, body: Mapping[str, Any]) -> list[bytes]:
        """An error after the headers went: Anthropic's ``error`` event."""
        del kind
        return [sse_event("error", body)]
