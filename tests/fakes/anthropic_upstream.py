"""A fake Anthropic Messages upstream: ``POST /v1/messages`` (JSON, and the SSE event
stream in Anthropic's exact event format), ``tool_use`` blocks when tools are given,
Anthropic-shaped error bodies, and scripted failures; Message Batches come from
:mod:`fakes.anthropic_batches`."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakes.anthropic_batches import AnthropicBatches
from fakes.prompt_cache import AnthropicCache, CacheError
from fakes.thinking import sign, thinking_on, thinking_problem
from fakes.upstream import Action, prompt_words, reply_words

__all__ = ["FakeAnthropic"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


class FakeAnthropic(AnthropicBatches):
    """Messages, and (from :class:`AnthropicBatches`) Message Batches."""

    base_path = ""

    def __init__(self) -> None:
        super().__init__()
        self.prompt_cache = AnthropicCache()

    def reset(self) -> None:
        super().reset()
        self.prompt_cache = AnthropicCache()

    def routes(self) -> list[Any]:
        return [
            Route("/v1/messages", self.messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", self.count_tokens, methods=["POST"]),
            *self.batch_routes(),
        ]

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        body = {
            "type": "error",
            "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
        }
        return self.json(body, status=status, headers=headers)

    @staticmethod
    def _validate(body: dict[str, Any]) -> str | None:
        """What the real API would refuse (a subset: enough to catch bad translations)."""
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                return f"{key}: Field required"
        roles = [m.get("role") for m in body["messages"]]
        if any(r not in ("user", "assistant") for r in roles):
            return "messages: roles must be 'user' or 'assistant' (system goes in `system`)"
        if not roles or roles[0] != "user":
            return "messages: first message must use the user role"
        for m in body["messages"]:
            if isinstance(m.get("content"), list):
                for block in m["content"]:
                    if block.get("type") == "tool_use" and not isinstance(block.get("input"), dict):
                        return "tool_use.input: must be an object"
        problem = thinking_problem(body)
        if problem:
            return problem
        for tool in body.get("tools") or ():
            if "input_schema" not in tool or "name" not in tool:
                return "tools: each tool needs name and input_schema"
        return None

    async def count_tokens(self, request: Request) -> Response:
        """The prompt's words, plus each tool's JSON words (the real API counts its own
        tokenizer's tokens, and the tools' definitions too). Scripted statuses apply."""
        body = await self.record(request)
        if "max_tokens" in body:
            return self._error(400, "max_tokens: Extra inputs are not permitted")
        problem = self._validate({**body, "max_tokens": 1 << 30})
        if problem:
            return self._error(400, problem)
        action = self.next_action(str(body["model"]))
        if action.status:
            return self._error(action.status, f"fake upstream error {action.status}")
        system = body.get("system")
        words = len(prompt_words([*body["messages"], {"content": system or []}]))
        words += sum(len(json.dumps(t).split()) for t in body.get("tools") or ())
        return self.json({"input_tokens": words})

    async def messages(self, request: Request) -> Response:
        body = await self.record(request)
        problem = self._validate(body)
        if problem:
            return self._error(400, problem)
        model = str(body["model"])
        action = self.next_action(model)
        if not await self.apply_delay(action, request):
            return Response(status_code=499)  # the client hung up while we "thought"
        if action.status:
            return self._error(
                action.status, f"fake upstream error {action.status}", self.error_headers(action)
            )
        if action.drop:
            return self.dropped()
        try:
            message = self.message(body, action)
        except CacheError as exc:
            return self._error(400, str(exc))
        if body.get("stream"):
            return self.sse(self._events(message, action))
        return self.json(message)

    def message(self, body: dict[str, Any], action: Action) -> dict[str, Any]:
        """The (non-streaming) Message answering a valid request ``body``."""
        words = reply_words(body["messages"], action.text)
        stop_reason, stop_sequence = "end_turn", None
        for n, word in enumerate(words):  # Anthropic stops before a stop sequence
            if word in (body.get("stop_sequences") or ()):
                words, stop_reason, stop_sequence = words[:n], "stop_sequence", word
                break
        if len(words) > int(body["max_tokens"]):
            words, stop_reason = words[: int(body["max_tokens"])], "max_tokens"
        content: list[dict[str, Any]] = [{"type": "text", "text": " ".join(words)}] if words else []
        tools = body.get("tools") or []
        choice = body.get("tool_choice") or {"type": "auto"}
        if tools and choice.get("type") != "none":
            tool = tools[0]
            if choice.get("type") == "tool":
                tool = next((t for t in tools if t["name"] == choice.get("name")), tool)
            required = tool["input_schema"].get("required") or []
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_{uuid.uuid4().hex[:12]}",
                    "name": tool["name"],
                    "input": dict.fromkeys(required, "x"),
                }
            )
            stop_reason = "tool_use"
        if thinking_on(body):
            thought = f"the question has {len(prompt_words(body['messages']))} words"
            content.insert(0, {"type": "thinking", "thinking": thought, "signature": sign(thought)})
        system = body.get("system")
        system_words = (
            len(system.split())
            if isinstance(system, str)
            else len(prompt_words([{"content": system or []}]))
        )
        prompt = len(prompt_words(body["messages"])) + system_words
        usage = {
            **self.prompt_cache.usage(body, prompt),  # raises CacheError: a 400
            "output_tokens": max(1, len(words)),
        }
        return {
            "id": f"msg_{uuid.uuid4().hex[:20]}",
            "type": "message",
            "role": "assistant",
            "model": str(body["model"]),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": usage,
        }

    @staticmethod
    def _thinking_events(i: int, block: dict[str, Any]) -> list[bytes]:
        empty = {"type": "thinking", "thinking": "", "signature": ""}
        start = {"type": "content_block_start", "index": i, "content_block": empty}
        deltas = [
            {"type": "thinking_delta", "thinking": part}
            for part in re.split(r"(?<= )", block["thinking"])
        ]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
        return [
            _event("content_block_start", start),
            *(
                _event("content_block_delta", {"type": "content_block_delta", "index": i,
                                               "delta": d})
                for d in deltas
            ),
        ]  # fmt: skip

    def batch_result(self, params: dict[str, Any]) -> dict[str, Any]:
        """A batch request's ``result``: what ``/v1/messages`` would answer, as a
        ``succeeded`` or ``errored`` result (scripted statuses and texts apply)."""
        problem = self._validate(params)
        if problem is None and params.get("stream"):
            problem = "stream: batch requests cannot stream"
        status = 400
        if problem is None:
            action = self.next_action(str(params["model"]))
            if not action.status:
                try:
                    return {"type": "succeeded", "message": self.message(params, action)}
                except CacheError as exc:
                    problem = str(exc)
            else:
                status, problem = action.status, f"fake upstream error {action.status}"
        error = {"type": _ERROR_TYPES.get(status, "api_error"), "message": problem}
        return {"type": "errored", "error": {"type": "error", "error": error}}

    async def _events(self, message: dict[str, Any], action: Action) -> AsyncIterator[bytes]:
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**message["usage"], "output_tokens": 1},
        }
        events = [
            _event("message_start", {"type": "message_start", "message": start}),
            _event("ping", {"type": "ping"}),
        ]
        for i, block in enumerate(message["content"]):
            if block["type"] == "thinking":
                events += self._thinking_events(i, block)
            elif block["type"] == "text":
                events.append(
                    _event(
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": i,
                            "content_block": {"type": "text", "text": ""},
                        },
                    )
                )
                words = block["text"].split(" ")
                for n, w in enumerate(words):
                    delta = {"type": "text_delta", "text": w if n == 0 else f" {w}"}
                    events.append(
                        _event(
                            "content_block_delta",
                            {"type": "content_block_delta", "index": i, "delta": delta},
                        )
                    )
            else:
                events.append(
                    _event(
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": i,
                            "content_block": {**block, "input": {}},
                        },
                    )
                )
                args = json.dumps(block["input"])
                for part in (args[: len(args) // 2], args[len(args) // 2 :]):
                    delta = {"type": "input_json_delta", "partial_json": part}
                    events.append(
                        _event(
                            "content_block_delta",
                            {"type": "content_block_delta", "index": i, "delta": delta},
                        )
                    )
            events.append(_event("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(
            _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": message["stop_reason"],
                        "stop_sequence": message["stop_sequence"],
                    },
                    "usage": {"output_tokens": message["usage"]["output_tokens"]},
                },
            )
        )
        events.append(_event("message_stop", {"type": "message_stop"}))

        for n, event in enumerate(events):
            if action.drop_after is not None and n >= action.drop_after:
                raise ConnectionAbortedError("fake upstream dropped the stream")
            yield event
            if action.chunk_delay:
                await asyncio.sleep(action.chunk_delay)
