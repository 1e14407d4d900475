"""A fake OpenAI-compatible upstream: ``POST /v1/chat/completions`` (JSON and SSE in the
exact OpenAI wire format, usage included, ``data: [DONE]``), tool calls when tools are
given, ``GET /v1/models``, OpenAI-shaped error bodies, and scripted failures; the Files
and Batch APIs come from :mod:`fakes.openai_batches`."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakes.openai_batches import OpenAIBatches
from fakes.prompt_cache import OpenAICache
from fakes.upstream import Action, prompt_words, reply_words

__all__ = ["FakeOpenAI"]

#: words, tool calls, finish reason, usage
_Reply = tuple[list[str], list[dict[str, Any]] | None, str, dict[str, Any]]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_api_key",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}


def _arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Deterministic arguments satisfying a JSON schema's required properties."""
    samples = {
        "string": "x",
        "integer": 1,
        "number": 1.0,
        "boolean": True,
        "array": [],
        "object": {},
    }
    props = schema.get("properties") or {}
    return {
        name: samples.get(str((props.get(name) or {}).get("type")), "x")
        for name in schema.get("required") or list(props)
    }


class FakeOpenAI(OpenAIBatches):
    """Chat completions, models, and (from :class:`OpenAIBatches`) files and batches."""

    base_path = "/v1"

    def __init__(self, models: tuple[str, ...] = ("fake-model",)) -> None:
        super().__init__()
        self.models = models
        self.prompt_cache = OpenAICache()

    def reset(self) -> None:
        super().reset()
        self.prompt_cache = OpenAICache()

    def routes(self) -> list[Any]:
        return [
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/models", self.list_models, methods=["GET"]),
            *self.batch_routes(),
        ]

    async def list_models(self, request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return self.json({"object": "list", "data": data})

    @staticmethod
    def error_body(status: int, message: str | None = None) -> dict[str, Any]:
        """OpenAI's error body for ``status``."""
        return {
            "error": {
                "message": message or f"fake upstream error {status}",
                "type": _ERROR_TYPES.get(status, "server_error"),
                "param": None,
                "code": None,
            }
        }

    def _error(self, action: Action) -> Response:
        status = action.status or 500
        return self.json(self.error_body(status), status=status, headers=self.error_headers(action))

    @staticmethod
    def _tool_calls(body: dict[str, Any]) -> list[dict[str, Any]] | None:
        tools = body.get("tools") or []
        choice = body.get("tool_choice", "auto")
        if not tools or choice == "none":
            return None
        tool = tools[0]
        if isinstance(choice, dict):
            wanted = (choice.get("function") or {}).get("name")
            tool = next((t for t in tools if t["function"]["name"] == wanted), tool)
        fn = tool["function"]
        args = json.dumps(_arguments(fn.get("parameters") or {}))
        return [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": fn["name"], "arguments": args},
            }
        ]

    async def chat(self, request: Request) -> Response:
        body = await self.record(request)
        model = str(body.get("model", ""))
        if not body.get("messages"):
            return self._error(Action(status=400))
        action = self.next_action(model)
        if not await self.apply_delay(action, request):
            return Response(status_code=499)  # the client hung up while we "thought"
        if action.status:
            return self._error(action)
        if action.drop:
            return self.dropped()
        if not body.get("stream"):
            return self.json(self.completion(body, action))
        words, calls, finish, usage = self._reply(body, action)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return self.sse(
            self._chunks(
                cid=f"chatcmpl-{uuid.uuid4().hex}",
                created=int(time.time()),
                model=model,
                words=words,
                calls=calls,
                finish=finish,
                usage=usage,
                include_usage=include_usage,
                action=action,
            )
        )

    def _reply(self, body: dict[str, Any], action: Action) -> _Reply:
        """The answer's words, tool calls, finish reason and usage."""
        words = reply_words(body["messages"], action.text)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        if limit is not None and len(words) > int(limit):
            words, finish = words[: int(limit)], "length"
        calls = self._tool_calls(body)
        if calls:
            words, finish = [], "tool_calls"
        prompt = len(prompt_words(body["messages"]))
        completion = len(words) + (len(calls[0]["function"]["arguments"]) // 4 if calls else 0)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {
                "cached_tokens": self.prompt_cache.cached_tokens(body["messages"], prompt)
            },
        }
        return words, calls, finish, usage

    def completion(self, body: dict[str, Any], action: Action) -> dict[str, Any]:
        """The non-streaming ``chat.completion`` answer to a valid request ``body``."""
        words, calls, finish, usage = self._reply(body, action)
        message: dict[str, Any] = {"role": "assistant", "content": " ".join(words) or None}
        if calls:
            message["tool_calls"] = calls
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model", "")),
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": usage,
            "system_fingerprint": "fp_fake",
        }

    def batch_answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A batch line's (status code, body): what ``/v1/chat/completions`` would answer
        (scripted statuses and texts apply; delays and drops do not)."""
        if not body.get("messages"):
            return 400, self.error_body(400, "messages: a non-empty array is required")
        action = self.next_action(str(body.get("model", "")))
        if action.status:
            return action.status, self.error_body(action.status)
        return 200, self.completion(body, action)

    async def _chunks(
        self,
        *,
        cid: str,
        created: int,
        model: str,
        words: list[str],
        calls: list[dict[str, Any]] | None,
        finish: str,
        usage: dict[str, Any],
        include_usage: bool,
        action: Action,
    ) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
            data = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
                ],
            }
            if include_usage:
                data["usage"] = None
            return f"data: {json.dumps(data)}\n\n".encode()

        if action.empty:
            yield b"data: [DONE]\n\n"
            return
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": w if i == 0 else f" {w}"} for i, w in enumerate(words)]
        for i, call in enumerate(calls or ()):
            args = call["function"]["arguments"]
            deltas.append(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
            half = len(args) // 2
            for part in (args[:half], args[half:]):
                deltas.append({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
        for n, delta in enumerate(deltas):
            if action.drop_after is not None and n >= action.drop_after:
                raise ConnectionAbortedError("fake upstream dropped the stream")
            if action.error_after is not None and n >= action.error_after:
                error = {"message": "server overloaded", "type": "server_error"}
                yield f"data: {json.dumps({'error': error})}\n\n".encode()
                return
            yield chunk(delta)
            if action.chunk_delay:
                await asyncio.sleep(action.chunk_delay)
        yield chunk({}, finish)
        if include_usage:
            final = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(final)}\n\n".encode()
        yield b"data: [DONE]\n\n"
