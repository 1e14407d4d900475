"""``chat.completion.chunk`` dicts -> the Responses API stream events (as bytes).

The sequence the ``openai`` SDK's ``responses.stream()`` checks: ``response.created``,
``response.in_progress``; per output item ``response.output_item.added``, then for a
message, per content part, ``response.content_part.added``, ``response.output_text.delta``
(or ``response.refusal.delta``)..., ``response.output_text.done`` (``refusal.done``),
``response.content_part.done``, and for a function call
``response.function_call_arguments.delta``..., ``response.function_call_arguments.done``;
``response.output_item.done``; last ``response.completed`` (``response.incomplete`` when
the answer was cut off, its items ``incomplete`` too; ``response.failed`` on an error
after the headers went, with what was written). Every event carries ``sequence_number``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchtower.providers.common import json_bytes, usage_from_openai
from switchtower.server.responses_wire import (
    call_item,
    finished,
    item_status,
    message_item,
    reasoning_tokens,
    refusal_part,
    response_error,
    response_skeleton,
    response_usage,
    text_part,
)
from switchtower.types import Usage

__all__ = ["ResponsesStream"]


class ResponsesStream:
    """One streamed ``response``: feed it chunks, then :meth:`finish` (or :meth:`failed`)."""

    def __init__(
        self, response_id: str, model: str, echo: Mapping[str, Any], input_tokens: int
    ) -> None:
        self.response_id = response_id
        self.model = model
        self.echo = echo
        self.usage = Usage(input_tokens, 0)
        self.reasoning_tokens = 0
        self.finish_reason: str | None = None
        self._seq = 0
        #: finished output items, in order
        self._items: list[dict[str, Any]] = []
        #: the open item: a message (its parts) or a function call (its arguments)
        self._open: dict[str, Any] | None = None
        self._open_key: str | None = None

    # -- framing ----------------------------------------------------------------------

    def _event(self, kind: str, **data: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **data}
        self._seq += 1
        return b"event: %s\ndata: %s\n\n" % (kind.encode(), json_bytes(payload))

    def _response(self, status: str) -> dict[str, Any]:
        body = response_skeleton(self.response_id, self.model, self.echo, status)
        body["output"] = list(self._items)
        return body

    def start(self) -> list[bytes]:
        return [
            self._event("response.created", response=self._response("in_progress")),
            self._event("response.in_progress", response=self._response("in_progress")),
        ]

    # -- items --------------------------------------------------------------------------

    @property
    def _index(self) -> int:
        return len(self._items)

    def _where(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"item_id": item["id"], "output_index": self._index}

    def _close_part(self) -> list[bytes]:
        item = self._open
        if item is None or item["type"] != "message" or not item["parts"]:
            return []
        i = len(item["parts"]) - 1
        part = item["parts"][i]
        where = {**self._where(item), "content_index": i}
        if part["type"] == "refusal":
            done = self._event("response.refusal.done", **where, refusal=part["refusal"])
        else:
            done = self._event("response.output_text.done", **where, text=part["text"], logprobs=[])
        return [done, self._event("response.content_part.done", **where, part=part)]

    def _close(self, status: str = "completed") -> list[bytes]:
        out = self._close_part()
        item, self._open, self._open_key = self._open, None, None
        if item is None:
            return out
        if item["type"] == "message":
            done = message_item(item["id"], item["parts"], status)
        else:
            done = call_item(item["id"], item["call_id"], item["name"], item["arguments"], status)
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    **self._where(item),
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        out.append(self._event("response.output_item.done", output_index=self._index, item=done))
        self._items.append(done)
        return out

    def _part(self, kind: str) -> list[bytes]:
        """Make sure the open item is a message whose last part is of ``kind``."""
        out: list[bytes] = []
        if self._open_key != "message":
            out += self._close()
            item_id = f"msg_{self.response_id.removeprefix('resp_')}_{self._index}"
            self._open = {"type": "message", "id": item_id, "parts": []}
            self._open_key = "message"
            added = message_item(item_id, [], "in_progress")
            out.append(
                self._event("response.output_item.added", output_index=self._index, item=added)
            )
        item = self._open
        assert item is not None
        if item["parts"] and item["parts"][-1]["type"] == kind:
            return out
        out += self._close_part()
        part = refusal_part("") if kind == "refusal" else text_part("")
        item["parts"].append(part)
        out.append(
            self._event(
                "response.content_part.added",
                **self._where(item),
                content_index=len(item["parts"]) - 1,
                part=dict(part),
            )
        )
        return out

    def _write(self, kind: str, delta: str) -> list[bytes]:
        out = self._part(kind)
        item = self._open
        assert item is not None
        part = item["parts"][-1]
        key = "refusal" if kind == "refusal" else "text"
        part[key] += delta
        where = {**self._where(item), "content_index": len(item["parts"]) - 1}
        if kind == "refusal":
            out.append(self._event("response.refusal.delta", **where, delta=delta))
        else:
            out.append(self._event("response.output_text.delta", **where, delta=delta, logprobs=[]))
        return out

    def _open_call(self, key: str, call: Mapping[str, Any]) -> list[bytes]:
        out = self._close()
        fn = call.get("function") or {}
        call_id = call.get("id") or f"call_{self.response_id}_{self._index}"
        item = {
            "type": "function_call",
            "id": f"fc_{call_id}",
            "call_id": call_id,
            "name": fn.get("name") or "",
            "arguments": "",
        }
        self._open, self._open_key = item, key
        added = call_item(item["id"], call_id, item["name"], "", status="in_progress")
        out.append(self._event("response.output_item.added", output_index=self._index, item=added))
        return out

    # -- chunks -------------------------------------------------------------------------

    def feed(self, chunk: Mapping[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        usage = chunk.get("usage")
        if isinstance(usage, Mapping):
            self.usage = usage_from_openai(usage)
            self.reasoning_tokens = reasoning_tokens(usage)
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if isinstance(text, str) and text:
                out += self._write("output_text", text)
            refusal = delta.get("refusal")
            if isinstance(refusal, str) and refusal:
                out += self._write("refusal", refusal)
            for call in delta.get("tool_calls") or ():
                key = f"tool:{call.get('index', 0)}"
                if self._open_key != key:
                    out += self._open_call(key, call)
                assert self._open is not None
                args = (call.get("function") or {}).get("arguments")
                if isinstance(args, str) and args:
                    self._open["arguments"] += args
                    out.append(
                        self._event(
                            "response.function_call_arguments.delta",
                            **self._where(self._open),
                            delta=args,
                        )
                    )
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def finish(self) -> list[bytes]:
        out = self._close(item_status(self.finish_reason))
        body = finished(self._response("completed"), self.finish_reason)
        body["usage"] = response_usage(self.usage, self.reasoning_tokens)
        kind = "response.completed" if body["status"] == "completed" else "response.incomplete"
        out.append(self._event(kind, response=body))
        return out

    def failed(self, kind: str, body: Mapping[str, Any]) -> list[bytes]:
        """The answer broke off after the headers went: what was written (its open item
        ``incomplete``), then ``response.failed`` with the error (``body``: its OpenAI
        error body)."""
        out = self._close("incomplete")
        message = str((body.get("error") or {}).get("message", ""))
        body = self._response("failed")
        body["error"] = response_error(kind, message)
        body["usage"] = response_usage(self.usage, self.reasoning_tokens)
        out.append(self._event("response.failed", response=body))
        return out
