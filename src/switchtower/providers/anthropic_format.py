"""Translation between OpenAI chat format and Anthropic Messages, both directions.

Requests: system/developer messages -> ``system``; ``tool`` messages -> ``tool_result``
blocks in a user turn; assistant ``tool_calls`` -> ``tool_use`` blocks; OpenAI function
tools -> ``input_schema`` tools; ``tool_choice``, ``stop`` and ``max_tokens`` (required by
Anthropic) mapped; ``response_format`` as a forced tool (:data:`JSON_TOOL`). Responses:
text + ``tool_use`` -> ``content`` + ``tool_calls``, ``stop_reason`` -> ``finish_reason``,
usage -> ``prompt_tokens``/``completion_tokens``.
Streams: Anthropic's event stream -> OpenAI ``chat.completion.chunk`` dicts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from switchtower.errors import (
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamServerError,
)
from switchtower.providers.anthropic_fields import ANTHROPIC_BLOCK, thinking_turn_ok

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "FINISH_REASONS",
    "JSON_TOOL",
    "StreamTranslator",
    "to_anthropic",
    "to_openai",
]

DEFAULT_MAX_TOKENS = 1024

#: Anthropic stop_reason -> OpenAI finish_reason
FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

#: Anthropic error types that can arrive as a stream event
_STREAM_ERRORS: Mapping[str, type[UpstreamError]] = {
    "overloaded_error": UpstreamServerError,
    "api_error": UpstreamServerError,
    "rate_limit_error": UpstreamRateLimitError,
}

#: OpenAI params copied under the same name
_SAME_NAME = ("temperature", "top_p", "top_k")
#: OpenAI params whose answer Anthropic cannot give: refused (a 400, so the executor tries
#: the next model) rather than dropped, which would hand the client another kind of answer
_REFUSED: Mapping[str, str] = {
    "logprobs": "Anthropic returns no log probabilities",
    "top_logprobs": "Anthropic returns no log probabilities",
    "audio": "Anthropic returns no audio",
    "functions": "legacy functions: send tools",
    "function_call": "legacy functions: send tools and tool_choice",
    "web_search_options": "OpenAI's web search has no Anthropic counterpart here",
}
#: the tool that carries a JSON answer (``response_format``): Anthropic is made to call
#: it, and its input comes back as the answer's text
JSON_TOOL = "switchtower_json_answer"


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p
        )
    return "" if content is None else str(content)


def _mark(part: object) -> dict[str, Any]:
    """A part's prompt-cache breakpoint (``cache_control``), as the Anthropic API takes
    it on the block made from the part."""
    if isinstance(part, Mapping) and isinstance(part.get("cache_control"), Mapping):
        return {"cache_control": dict(part["cache_control"])}
    return {}


def _image_block(part: Mapping[str, Any]) -> dict[str, Any]:
    url = str((part.get("image_url") or {}).get("url", ""))
    if url.startswith("data:") and ";base64," in url:
        media, data = url[5:].split(";base64,", 1)
        source = {"type": "base64", "media_type": media, "data": data}
    else:
        source = {"type": "url", "url": url}
    return {"type": "image", "source": source, **_mark(part)}


def _document_block(part: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI ``file`` part (a PDF as a data URL) as a ``document`` block; an OpenAI
    file id, which only OpenAI can read, as a line saying so."""
    given = part.get("file")
    spec: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    data = str(spec.get("file_data") or "")
    if not (data.startswith("data:") and ";base64," in data):
        name = spec.get("filename") or spec.get("file_id") or "a file"
        return {"type": "text", "text": f"[{name} was here: an OpenAI file only OpenAI reads]"}
    media, encoded = data[5:].split(";base64,", 1)
    block: dict[str, Any] = {
        "type": "document",
        "source": {"type": "base64", "media_type": media or "application/pdf", "data": encoded},
    }
    if isinstance(spec.get("filename"), str) and spec["filename"]:
        block["title"] = spec["filename"]
    return {**block, **_mark(part)}


def _content_blocks(content: object) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content if isinstance(content, Sequence) else [content]:
        if isinstance(part, str):
            blocks.append({"type": "text", "text": part})
        elif isinstance(part, Mapping) and part.get("type") == "image_url":
            blocks.append(_image_block(part))
        elif isinstance(part, Mapping) and part.get("type") == ANTHROPIC_BLOCK:
            blocks.append(dict(part["block"]))  # a document, kept whole for Anthropic
        elif isinstance(part, Mapping) and part.get("type") == "file":
            blocks.append(_document_block(part))
        elif isinstance(part, Mapping) and "text" in part:
            blocks.append({"type": "text", "text": str(part["text"]), **_mark(part)})
    return blocks


def _tool_use_blocks(tool_calls: object) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for call in tool_calls if isinstance(tool_calls, Sequence) else ():
        fn = call.get("function") or {}
        args = fn.get("arguments") or "{}"
        try:
            parsed = json.loads(args) if isinstance(args, str) else dict(args)
        except json.JSONDecodeError:
            parsed = {"_raw": args}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": fn.get("name"),
                "input": parsed,
                **_mark(call),
            }
        )
    return blocks


def _tool_result(message: Mapping[str, Any]) -> dict[str, Any]:
    """A ``tool`` message -> a ``tool_result`` block: text, or text and image blocks with
    their prompt-cache marks; the message's own mark marks the block."""
    content = message.get("content")
    blocks = _content_blocks(content) if isinstance(content, list) else []
    plain = all(b["type"] == "text" and "cache_control" not in b for b in blocks)
    return {
        "type": "tool_result",
        "tool_use_id": message.get("tool_call_id"),
        "content": _text_of(content) if plain else blocks,
        **_mark(message),
        **({"is_error": True} if message.get("is_error") is True else {}),
    }


def _system(groups: list[list[dict[str, Any]]]) -> str | list[dict[str, Any]] | None:
    """The ``system`` parameter from the system messages' text parts: one string (parts
    joined by a line, messages by a blank line), or text blocks when one marks a
    prompt-cache breakpoint (a string cannot carry it)."""
    if any("cache_control" in p for parts in groups for p in parts):
        return [p for parts in groups for p in parts if p["text"]]
    texts = ["\n".join(p["text"] for p in parts) for parts in groups]
    return "\n\n".join(t for t in texts if t) or None


def _messages(
    messages: Sequence[Mapping[str, Any]],
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    system: list[list[dict[str, Any]]] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:  # Anthropic wants alternating turns
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for m in messages:
        role = m.get("role")
        if role in ("system", "developer"):
            content = m.get("content")
            if isinstance(content, list):
                system.append([b for b in _content_blocks(content) if b["type"] == "text"])
            else:
                system.append([{"type": "text", "text": _text_of(content)}])
        elif role == "tool":
            add("user", [_tool_result(m)])
        elif role == "assistant":
            given = m.get("thinking_blocks")
            thinking = (
                [dict(b) for b in given if isinstance(b, Mapping)]
                if isinstance(given, list)
                else []
            )
            add(
                "assistant",
                thinking
                + _content_blocks(m.get("content"))
                + _tool_use_blocks(m.get("tool_calls")),
            )
        else:
            add("user", _content_blocks(m.get("content")))
    return _system(system), out


def _tools(tools: object) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, Sequence) else ():
        fn = tool.get("function", tool) if isinstance(tool, Mapping) else {}
        spec: dict[str, Any] = {
            "name": fn.get("name"),
            "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
        }
        if fn.get("description"):
            spec["description"] = fn["description"]
        out.append({**spec, **_mark(tool)})
    return out


def _tool_choice(choice: object) -> dict[str, Any] | None:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        if name:
            return {"type": "tool", "name": name}
    return None


def to_anthropic(
    model_id: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> dict[str, Any]:
    """Keyword arguments for ``messages.create`` from an OpenAI-format request.

    ``response_format`` (``json_object``, ``json_schema``) becomes a tool Anthropic must
    call, whose input is the JSON answer (:data:`JSON_TOOL`); beside the client's tools
    (unless its ``tool_choice`` names one or says none) a tool call is required, either
    one of the client's or the answer's; ``user`` becomes
    ``metadata.user_id``. What changes the kind of answer and has no counterpart
    (:data:`_REFUSED`, ``n`` > 1, audio output) is refused as a 400; sampling and
    bookkeeping parameters with none (``seed``, penalties, ``logit_bias``,
    ``reasoning_effort``, ``store``, ``prompt_cache_key``, ...) are dropped.
    """

    def refuse(why: str) -> UpstreamRejectedError:
        return UpstreamRejectedError(f"{model_id}: {why}", model=model_id, status=400)

    if int(params.get("n") or 1) > 1:
        raise refuse("Anthropic returns one choice (n > 1 given)")
    for name, why in _REFUSED.items():
        if params.get(name):
            raise refuse(f"{why} ({name} given)")
    if "audio" in (params.get("modalities") or ()):
        raise refuse("Anthropic returns no audio (modalities has audio)")
    system, msgs = _messages(messages)
    kwargs: dict[str, Any] = {
        "model": model_id,
        "messages": msgs,
        "max_tokens": int(
            params.get("max_completion_tokens") or params.get("max_tokens") or DEFAULT_MAX_TOKENS
        ),
    }
    if system:
        kwargs["system"] = system
    for key in _SAME_NAME:
        if params.get(key) is not None:
            kwargs[key] = params[key]
    stop = params.get("stop")
    if stop:
        kwargs["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if params.get("service_tier") == "auto":  # OpenAI's other tiers are not Anthropic's
        kwargs["service_tier"] = "auto"
    if isinstance(params.get("user"), str):
        kwargs["metadata"] = {"user_id": params["user"]}
    tools = _tools(params.get("tools"))
    schema = _json_schema(params.get("response_format"), refuse)
    choice = _tool_choice(params.get("tool_choice")) if tools else None
    if schema is not None and (choice or {}).get("type") != "tool":
        answer = {
            "name": JSON_TOOL,
            "description": "Give the answer as JSON.",
            "input_schema": schema,
        }
        if tools and (choice or {}).get("type") != "none":
            # tools and a JSON answer (an agent with an output type): a tool must be
            # called, the client's or the answer's, so the final answer is the JSON
            kwargs["tools"] = [*tools, answer]
            choice = {"type": "any"}
        else:
            kwargs["tools"] = [answer]
            choice = {"type": "tool", "name": JSON_TOOL}
    elif tools:
        kwargs["tools"] = tools
    if choice is not None:
        if params.get("parallel_tool_calls") is False and choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
        kwargs["tool_choice"] = choice
    _think(kwargs, params)
    return kwargs


def _think(kwargs: dict[str, Any], params: Mapping[str, Any]) -> None:
    """Anthropic's extended thinking, where the API allows it. It is left out when the
    tool turn the request continues was another model's (its signed thinking cannot be
    made up), and when a tool is forced (``tool_choice`` any or a named tool, or a JSON
    answer): the answer's shape comes first. With no ``max_tokens`` given, the budget
    gets the default answer length on top of it."""
    thinking = params.get("thinking")
    if not isinstance(thinking, Mapping) or thinking.get("type") == "disabled":
        return
    forced = (kwargs.get("tool_choice") or {}).get("type") in ("any", "tool")
    if forced or not thinking_turn_ok(kwargs["messages"]):
        return
    budget = thinking.get("budget_tokens")
    given = params.get("max_completion_tokens") or params.get("max_tokens")
    if isinstance(budget, int) and not given:
        kwargs["max_tokens"] = budget + DEFAULT_MAX_TOKENS
    kwargs["thinking"] = dict(thinking)


def _json_schema(
    fmt: object, refuse: Callable[[str], UpstreamRejectedError]
) -> dict[str, Any] | None:
    """The JSON schema a ``response_format`` asks for (None: plain text)."""
    if not isinstance(fmt, Mapping) or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_object":
        return {"type": "object"}
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping) or schema.get("type") != "object":
            raise refuse("a json_schema answer must be a JSON object (schema type object)")
        return dict(schema)
    raise refuse(f"response_format type {fmt.get('type')!r} has no Anthropic counterpart")


def _usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI usage from Anthropic's: the prompt counts every input token (Anthropic's
    ``input_tokens`` leaves out cache reads and writes); cache reads go where OpenAI puts
    its own (``prompt_tokens_details.cached_tokens``), cache writes beside them."""
    read = int(usage.get("cache_read_input_tokens") or 0)
    write = int(usage.get("cache_creation_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + read + write
    completion = int(usage.get("output_tokens") or 0)
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if read or write:
        out["prompt_tokens_details"] = {"cached_tokens": read}
        out["cache_creation_input_tokens"] = write
        split = usage.get("cache_creation")
        hour = split.get("ephemeral_1h_input_tokens") if isinstance(split, Mapping) else 0
        if hour:  # dearer than 5-minute writes
            out["cache_creation_1h_input_tokens"] = int(hour)
    return out


def _tool_call(block: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {
            "name": block.get("name"),
            "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False),
        },
    }


def to_openai(message: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` dict from an Anthropic ``message`` dict."""
    blocks = [b for b in message.get("content") or () if isinstance(b, Mapping)]
    texts = [str(b.get("text", "")) for b in blocks if b.get("type") == "text"]
    thinking = [dict(b) for b in blocks if b.get("type") in ("thinking", "redacted_thinking")]
    calls = [_tool_call(b) for b in blocks if b.get("type") == "tool_use"]
    stop = message.get("stop_reason")
    answers = [c for c in calls if c["function"]["name"] == JSON_TOOL]
    if answers:  # a JSON answer (response_format): its input is the text
        texts = [answers[0]["function"]["arguments"]]
        calls = [c for c in calls if c["function"]["name"] != JSON_TOOL]
        stop = "end_turn" if stop == "tool_use" and not calls else stop
    out_message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
    }
    if calls:
        out_message["tool_calls"] = calls
    if thinking:  # the text where OpenAI-format servers put reasoning; the signed blocks
        # for the Anthropic wire (a client gives them back with its next turn)
        out_message["reasoning_content"] = "".join(str(b.get("thinking", "")) for b in thinking)
        out_message["thinking_blocks"] = thinking
    return {
        "id": message.get("id"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": message.get("model"),
        "choices": [
            {
                "index": 0,
                "message": out_message,
                "finish_reason": FINISH_REASONS.get(str(stop), "stop") if stop else None,
                **_stop_sequence(stop, message.get("stop_sequence")),
            }
        ],
        "usage": _usage(message.get("usage") or {}),
    }


def _stop_sequence(stop: object, sequence: object) -> dict[str, str]:
    """Which of the request's stop sequences ended the answer, kept beside OpenAI's
    ``finish_reason: stop`` (which cannot say) for the Anthropic wire to give back."""
    return (
        {"stop_sequence": sequence} if stop == "stop_sequence" and isinstance(sequence, str) else {}
    )


@dataclass
class StreamTranslator:
    """Anthropic stream events (as dicts) -> OpenAI ``chat.completion.chunk`` dicts."""

    model_id: str
    #: the request asked for a JSON answer (:data:`JSON_TOOL`, forced or beside tools):
    #: only that is the text
    json_answer: bool = False
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))
    usage: dict[str, Any] = field(default_factory=dict)
    _tool_index: dict[int, int] = field(default_factory=dict)
    #: the text of the thinking block being streamed (sent whole, signed, at its end)
    _thought: str = ""
    #: the block carrying a JSON answer (:data:`JSON_TOOL`), streamed as text
    _json_block: int | None = None
    #: further JSON answers (parallel calls): left out, as the plain answer does
    _skipped: set[int] = field(default_factory=set)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model_id,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _block_start(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        block = event.get("content_block") or {}
        if block.get("type") == "tool_use" and block.get("name") == JSON_TOOL:
            if self._json_block is None:  # the first answer is the answer
                self._json_block = int(event.get("index", 0))
            else:
                self._skipped.add(int(event.get("index", 0)))
            return []
        if block.get("type") == "tool_use":
            index = self._tool_index.setdefault(int(event.get("index", 0)), len(self._tool_index))
            call = {
                "index": index,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        if block.get("type") == "text" and block.get("text") and not self.json_answer:
            return [self._chunk({"content": block["text"]})]
        if block.get("type") == "thinking":  # its text streams; signed at its end
            self._thought = str(block.get("thinking") or "")
            return [self._chunk({"reasoning_content": self._thought})] if self._thought else []
        if block.get("type") == "redacted_thinking":
            redacted = {"type": "redacted_thinking", "data": block.get("data", "")}
            return [self._chunk({"thinking_blocks": [redacted]})]
        return []

    def feed(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.id = str(message.get("id") or self.id)
            self.model_id = str(message.get("model") or self.model_id)
            self.usage = dict(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta" and not self.json_answer:
                return [self._chunk({"content": delta.get("text", "")})]
            if delta.get("type") == "thinking_delta":
                self._thought += str(delta.get("thinking", ""))
                return [self._chunk({"reasoning_content": delta.get("thinking", "")})]
            if delta.get("type") == "signature_delta":  # the block, whole, as answers carry it
                block = {"type": "thinking", "thinking": self._thought,
                         "signature": delta.get("signature", "")}  # fmt: skip
                self._thought = ""
                return [self._chunk({"thinking_blocks": [block]})]
            if int(event.get("index", 0)) in self._skipped:
                return []
            if delta.get("type") == "input_json_delta" and self._json_block == int(
                event.get("index", 0)
            ):
                return [self._chunk({"content": delta.get("partial_json", "")})]
            if delta.get("type") == "input_json_delta":
                index = self._tool_index.get(int(event.get("index", 0)), 0)
                call = {"index": index, "function": {"arguments": delta.get("partial_json", "")}}
                return [self._chunk({"tool_calls": [call]})]
            return []
        if kind == "message_delta":
            self.usage.update(
                {k: v for k, v in (event.get("usage") or {}).items() if v is not None}
            )
            delta = event.get("delta") or {}
            stop = delta.get("stop_reason")
            if stop == "tool_use" and self._json_block is not None and not self._tool_index:
                stop = "end_turn"  # the JSON answer is the whole answer
            if stop:
                chunk = self._chunk({}, FINISH_REASONS.get(str(stop), "stop"))
                chunk["choices"][0].update(_stop_sequence(stop, delta.get("stop_sequence")))
                return [chunk]
            return []
        if kind == "message_stop":
            final = self._chunk({})
            final["choices"] = []
            final["usage"] = _usage(self.usage)
            return [final]
        if kind == "error":
            err = event.get("error") or {}
            kind = str(err.get("type", ""))
            error = _STREAM_ERRORS.get(kind, UpstreamRejectedError)
            raise error(f"{self.model_id}: stream error {kind}: {err.get('message', '')}")
        return []  # ping and unknown future events
