"""The OpenAI Responses API wire (``POST /v1/responses``) on top of the internal chat format.

The OpenAI Agents SDK and Codex speak it. Requests: ``instructions`` -> a system message;
``input`` (a string, or items: messages with ``input_text`` / ``input_image`` parts,
``function_call`` and ``function_call_output`` items) -> chat messages, a function call
joining the assistant turn before it; function ``tools``, ``tool_choice``,
``max_output_tokens``, ``text.format`` (-> ``response_format``) and ``reasoning.effort``
mapped. Answers: ``chat.completion`` -> a ``response`` (a ``message`` item and one
``function_call`` item per tool call); streams in ``responses_stream.py``.

The gateway keeps no conversation state: ``previous_response_id``, ``conversation``,
stored ``prompt``s, ``item_reference`` items, ``background`` and file ids are refused
with a 400 naming the field (send the whole input, as ``store: false`` clients do).
``reasoning`` items (OpenAI's encrypted reasoning, given back) are left out: no other
model can read them. Hosted tools (web search, file search, computer use, MCP, ...) run
inside OpenAI and are refused: the gateway takes function tools.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from switchtower.errors import InvalidRequestError
from switchtower.server.hints import Hints
from switchtower.server.openai_wire import ChatCall, build_request, check_params
from switchtower.types import Completion, Usage

__all__ = ["parse_responses", "response_body", "response_skeleton", "response_usage"]

#: fields the gateway reads, maps or accepts without passing on
_HANDLED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "max_output_tokens",
        "text",
        "reasoning",
        "metadata",
        "stream",
        "stream_options",
        "store",
        "include",
        "truncation",
        "background",
        "top_logprobs",
        # limits on OpenAI's hosted tools and its server-side compaction: nothing to do
        "max_tool_calls",
        "context_management",
    }
)
#: passed on under the same name (checked as on the chat wire)
_SAME: tuple[str, ...] = ("temperature", "top_p", "parallel_tool_calls", "user")
_SAME += ("safety_identifier", "prompt_cache_key", "prompt_cache_retention", "service_tier")
_SAME += ("prompt_cache_options",)
#: the server-side state the gateway does not keep
_STATEFUL = {
    "previous_response_id": "the gateway keeps no responses: send the whole conversation "
    "as input (store: false)",
    "conversation": "the gateway keeps no conversations: send the whole conversation as input",
    "prompt": "the gateway keeps no stored prompts: send instructions and input",
}
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "refusal"})


def _bad(field: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(f"{field}: {message}", field=field)


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _bad(field, "must be a string")
    return value


# -- input ------------------------------------------------------------------------------


def _part(part: Any, where: str) -> dict[str, Any]:
    if not isinstance(part, Mapping):
        raise _bad(where, "must be an object")
    kind = part.get("type")
    if not isinstance(kind, str):
        raise _bad(f"{where}.type", "must be a string")
    if kind in _TEXT_PARTS:
        key = "refusal" if kind == "refusal" else "text"
        return {"type": "text", "text": _string(part.get(key), f"{where}.{key}")}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise _bad(
                f"{where}.image_url",
                "must be a URL or a data URL (file ids need OpenAI's Files API, which the "
                "gateway does not keep)",
            )
        image: dict[str, Any] = {"url": url}
        if part.get("detail") is not None:
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        data = part.get("file_data")
        if not isinstance(data, str) or not data.startswith("data:"):
            raise _bad(
                f"{where}.file_data",
                "must be the file as a data URL (file ids and file URLs need OpenAI's "
                "Files API, which the gateway does not keep)",
            )
        file = {"file_data": data, "filename": str(part.get("filename") or "document.pdf")}
        return {"type": "file", "file": file}
    raise _bad(
        f"{where}.type",
        f"{kind!r} is not a content part the gateway carries (input_text, input_image, input_file)",
    )


def _content(content: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _bad(where, "must be a string or an array of content parts")
    parts = [_part(p, f"{where}[{j}]") for j, p in enumerate(content)]
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts) if len(parts) == 1 else parts
    return parts


def _tool_call(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    arguments = item.get("arguments", "")
    return {
        "id": _string(item.get("call_id"), f"{where}.call_id"),
        "type": "function",
        "function": {
            "name": _string(item.get("name"), f"{where}.name"),
            "arguments": _string(arguments, f"{where}.arguments"),
        },
    }


def _output(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    output = item.get("output")
    content = output if isinstance(output, str) else _content(output, f"{where}.output")
    return {
        "role": "tool",
        "tool_call_id": _string(item.get("call_id"), f"{where}.call_id"),
        "content": content,
    }


def _add_item(item: Any, where: str, out: list[dict[str, Any]]) -> None:
    if not isinstance(item, Mapping):
        raise _bad(where, "must be an object")
    kind = item.get("type", "message" if "role" in item else None)
    if kind is not None and not isinstance(kind, str):
        raise _bad(f"{where}.type", "must be a string")
    if kind == "message":
        given = item.get("role")
        role = _ROLES.get(given) if isinstance(given, str) else None
        if role is None:
            raise _bad(f"{where}.role", "must be one of user, assistant, system, developer")
        out.append({"role": role, "content": _content(item.get("content"), f"{where}.content")})
    elif kind == "function_call":
        call = _tool_call(item, where)
        last = out[-1] if out else None
        if last is not None and last["role"] == "assistant":  # one assistant turn
            last["tool_calls"] = [*last.get("tool_calls", ()), call]
        else:
            out.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        out.append(_output(item, where))
    elif kind == "reasoning":
        return  # OpenAI's own (encrypted) reasoning: no other model reads it
    elif kind == "item_reference":
        raise _bad(where, "the gateway keeps no items: send the item itself")
    else:
        raise _bad(
            f"{where}.type",
            f"{kind!r} is not an input item the gateway carries (message, function_call, "
            "function_call_output, reasoning)",
        )


def _messages(body: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    out: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None and _string(instructions, "instructions"):
        out.append({"role": "system", "content": instructions})
    given = body.get("input")
    if isinstance(given, str):
        out.append({"role": "user", "content": given})
    elif isinstance(given, list):
        for i, item in enumerate(given):
            _add_item(item, f"input[{i}]", out)
    else:
        raise _bad("input", "must be a string or an array of input items")
    if not any(m["role"] != "system" for m in out):
        raise _bad("input", "holds no message to answer")
    return tuple(out)


# -- parameters --------------------------------------------------------------------------


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _bad("tools", "must be an array")
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, Mapping) else None
            raise _bad(
                f"{where}.type",
                f"{kind!r}: the gateway takes function tools; hosted tools (web search, file "
                "search, computer use, code interpreter, MCP, ...) run inside OpenAI",
            )
        fn: dict[str, Any] = {"name": _string(tool.get("name"), f"{where}.name")}
        for key in ("description", "parameters", "strict"):
            if tool.get(key) is not None:
                fn[key] = tool[key]
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return {
            "type": "function",
            "function": {"name": _string(choice.get("name"), "tool_choice.name")},
        }
    raise _bad("tool_choice", "must be auto, none, required or {type: function, name}")


def _format(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, Mapping):
        raise _bad("text", "must be an object")
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, Mapping):
        raise _bad("text.format", "must be an object")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        _string(schema.get("name"), "text.format.name")
        if not isinstance(schema.get("schema"), Mapping):
            raise _bad("text.format.schema", "must be an object (a JSON schema)")
        return {"type": "json_schema", "json_schema": schema}
    raise _bad("text.format.type", "must be text, json_object or json_schema")


def _params(body: Mapping[str, Any]) -> dict[str, Any]:
    unknown = [k for k in body if k not in _HANDLED and k not in _SAME and k not in _STATEFUL]
    if unknown:
        raise _bad(unknown[0], "unrecognized request argument")
    for key, why in _STATEFUL.items():
        if body.get(key) is not None:
            raise _bad(key, why)
    if body.get("background"):
        raise _bad(
            "background", "the gateway answers now; a background response needs stored state"
        )
    params = check_params({k: body[k] for k in _SAME if k in body}, frozenset())
    if body.get("max_output_tokens") is not None:
        limit = body["max_output_tokens"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise _bad("max_output_tokens", "must be an integer >= 1")
        params["max_tokens"] = limit
    if body.get("top_logprobs") is not None:
        top = body["top_logprobs"]
        if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 20:
            raise _bad("top_logprobs", "must be an integer from 0 to 20")
        params["logprobs"], params["top_logprobs"] = True, top
    if body.get("tools"):
        params["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        params["tool_choice"] = _tool_choice(body["tool_choice"])
    if body.get("text") is not None:
        text = body["text"]
        fmt = _format(text)
        if fmt is not None:
            params["response_format"] = fmt
        if text.get("verbosity") is not None:
            params["verbosity"] = _string(text["verbosity"], "text.verbosity")
    reasoning = body.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, Mapping):
            raise _bad("reasoning", "must be an object")
        if reasoning.get("effort") is not None:
            params["reasoning_effort"] = _string(reasoning["effort"], "reasoning.effort")
    return params


def _echo(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request fields a ``response`` repeats back."""
    text = body.get("text") if isinstance(body.get("text"), Mapping) else None
    metadata = body.get("metadata") or {}
    parallel = body.get("parallel_tool_calls")
    return {
        "created_at": int(time.time()),
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        # OpenAI's metadata values are strings; routing hints may be numbers or booleans
        "metadata": {
            str(k): v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()
        },
        "parallel_tool_calls": True if parallel is None else parallel,
        "temperature": body.get("temperature"),
        "top_p": body.get("top_p"),
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": list(body.get("tools") or ()),
        "text": dict(text) if text else {"format": {"type": "text"}},
        "reasoning": body.get("reasoning"),
        "user": body.get("user"),
    }


def parse_responses(body: Any, hints_of: Callable[[Mapping[str, Any]], Hints]) -> ChatCall:
    """Validate a ``POST /v1/responses`` body into a :class:`ChatCall` (its ``echo``: the
    fields the answer repeats)."""
    if not isinstance(body, Mapping):
        raise InvalidRequestError("the body must be a JSON object", field="body")
    if not isinstance(body.get("model"), str):
        raise _bad("model", "must be a string (auto, auto:<operation> or a configured model)")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream", "must be a boolean")
    if body.get("metadata") is not None and not isinstance(body["metadata"], Mapping):
        raise _bad("metadata", "must be an object")
    messages = _messages(body)
    params = _params(body)
    hints = hints_of(body)
    if hints.accept_deferred:
        given = body.get("metadata") or {}
        raise InvalidRequestError(
            "the Responses API wire answers now: a deferred answer (the async hint) is for "
            "/v1/chat/completions and /v1/messages",
            field="metadata.async" if "async" in given else "x-switchtower-async",
        )
    request = build_request(messages, hints, params)
    return ChatCall(request, bool(stream), True, None, echo=_echo(body))


# -- the answer ---------------------------------------------------------------------------


def response_usage(usage: Usage, reasoning_tokens: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def response_skeleton(
    response_id: str, model: str, echo: Mapping[str, Any], status: str
) -> dict[str, Any]:
    """A ``response`` with no output yet (what a stream starts with)."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),  # the echo's, when the request had one
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
        "previous_response_id": None,
        "store": False,
        "usage": None,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        **echo,
    }


#: chat ``finish_reason`` -> the ``incomplete_details.reason`` of an unfinished answer
INCOMPLETE: Mapping[str, str] = {"length": "max_output_tokens", "content_filter": "content_filter"}


def finished(body: dict[str, Any], finish: str | None) -> dict[str, Any]:
    """``body`` marked completed, or incomplete with the reason the finish gives."""
    reason = INCOMPLETE.get(finish or "")
    body["status"] = "incomplete" if reason else "completed"
    body["incomplete_details"] = {"reason": reason} if reason else None
    if not reason:
        body["completed_at"] = int(time.time())
    return body


def item_status(finish: str | None) -> str:
    """An output item's status when the answer ended with ``finish``."""
    return "incomplete" if finish in INCOMPLETE else "completed"


#: the gateway's error kinds -> ``ResponseError.code`` (the rest are ``server_error``)
_ERROR_CODES = {"upstream_rate_limit": "rate_limit_exceeded"}


def response_error(kind: str, message: str) -> dict[str, Any]:
    """A ``response.error``: OpenAI's code, the gateway's kind as its ``type``."""
    return {"code": _ERROR_CODES.get(kind, "server_error"), "message": message, "type": kind}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(text: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": text}


def message_item(
    item_id: str, content: list[dict[str, Any]], status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def reasoning_tokens(usage: object) -> int:
    """``completion_tokens_details.reasoning_tokens`` of an OpenAI usage, else 0."""
    details = usage.get("completion_tokens_details") if isinstance(usage, Mapping) else None
    value = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    return int(value) if isinstance(value, int) else 0


def response_body(completion: Completion, trace_id: str, echo: Mapping[str, Any]) -> dict[str, Any]:
    """A ``response`` from the OpenAI-format completion."""
    choices = completion.raw.get("choices") or []
    first = choices[0] if choices and isinstance(choices[0], Mapping) else {}
    message = first.get("message") or {"content": completion.text}
    finish = first.get("finish_reason") or completion.finish_reason
    status = item_status(finish)
    output: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    text, refusal = message.get("content"), message.get("refusal")
    if isinstance(text, str) and text:
        parts.append(text_part(text))
    if isinstance(refusal, str) and refusal:
        parts.append(refusal_part(refusal))
    if parts:
        output.append(message_item(f"msg_{trace_id}", parts, status))
    for i, call in enumerate(message.get("tool_calls") or ()):
        fn = call.get("function") or {}
        call_id = call.get("id") or f"call_{trace_id}_{i}"
        args = fn.get("arguments") or ""
        output.append(call_item(f"fc_{call_id}", call_id, fn.get("name", ""), args, status))
    body = response_skeleton(f"resp_{trace_id}", completion.model, echo, "completed")
    body["output"] = output
    body["usage"] = response_usage(completion.usage, reasoning_tokens(completion.raw.get("usage")))
    return finished(body, finish)
