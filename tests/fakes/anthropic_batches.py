"""Anthropic's Message Batches API for :class:`~fakes.anthropic_upstream.FakeAnthropic`:
``POST /v1/messages/batches``, ``GET /v1/messages/batches[/{id}]``,
``GET /v1/messages/batches/{id}/results`` (JSONL) and ``POST .../{id}/cancel``.

A batch reports ``in_progress`` when created and for its first
``batch_polls_until_done`` retrieves, then ``ended`` with a ``results_url``. Its
``batch_outcome`` decides the results: ``ended`` (each request answered as
``/v1/messages`` would: ``succeeded`` or ``errored``) or ``expired`` (every result
``expired``). A cancelled batch reports ``canceling`` and then ``ended`` with every result
``canceled`` (the fake answers requests only when a batch ends)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakes.upstream import FakeUpstream

__all__ = ["AnthropicBatch", "AnthropicBatchOutcome", "AnthropicBatches"]

AnthropicBatchOutcome = Literal["ended", "expired"]


def _rfc3339(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


@dataclass
class AnthropicBatch:
    """One created batch: what was submitted (``requests``, as sent: ``custom_id`` and
    ``params``) and its state. ``results`` holds the result lines once it has ended."""

    id: str
    requests: list[dict[str, Any]]
    outcome: AnthropicBatchOutcome
    polls_until_done: int
    results_url: str
    processing_status: str = "in_progress"
    retrieves: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        counts = dict.fromkeys(("succeeded", "errored", "canceled", "expired"), 0)
        for line in self.results:
            counts[line["result"]["type"]] += 1
        ended = self.processing_status == "ended"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.processing_status,
            "request_counts": {"processing": len(self.requests) - len(self.results), **counts},
            "ended_at": _rfc3339(self.ended_at),
            "created_at": _rfc3339(self.created_at),
            "expires_at": _rfc3339(self.created_at + timedelta(hours=24)),
            "archived_at": None,
            "cancel_initiated_at": _rfc3339(self.cancel_initiated_at),
            "results_url": self.results_url if ended else None,
        }


class AnthropicBatches(FakeUpstream):
    """Mixin base of ``FakeAnthropic`` adding Message Batches.

    Knobs (read when a batch is created; ``reset()`` restores them):
    ``batch_polls_until_done`` (retrieves answering ``in_progress``) and ``batch_outcome``.
    Log: ``batches`` (a dict by id, in creation order).
    """

    def __init__(self) -> None:
        super().__init__()
        self.batches: dict[str, AnthropicBatch] = {}
        self.batch_polls_until_done = 1
        self.batch_outcome: AnthropicBatchOutcome = "ended"

    def batch_result(self, params: dict[str, Any]) -> dict[str, Any]:
        """One request's ``result`` object; provided by the concrete fake."""
        raise NotImplementedError

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.batches.clear()
            self.batch_polls_until_done = 1
            self.batch_outcome = "ended"

    def batch_routes(self) -> list[Route]:
        base = "/v1/messages/batches"
        return [
            Route(base, self.create_batch, methods=["POST"]),
            Route(base, self.list_batches, methods=["GET"]),
            Route(base + "/{batch_id}", self.retrieve_batch, methods=["GET"]),
            Route(base + "/{batch_id}/results", self.batch_results, methods=["GET"]),
            Route(base + "/{batch_id}/cancel", self.cancel_batch, methods=["POST"]),
        ]

    def _fail(self, status: int, message: str) -> Response:
        kind = "not_found_error" if status == 404 else "invalid_request_error"
        body = {"type": "error", "error": {"type": kind, "message": message}}
        return self.json(body, status=status)

    async def create_batch(self, request: Request) -> Response:
        body = await request.json()
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            return self._fail(400, "requests: a non-empty array is required")
        seen: set[str] = set()
        for n, item in enumerate(requests):
            if not isinstance(item, dict) or not isinstance(item.get("params"), dict):
                return self._fail(400, f"requests.{n}: custom_id and params are required")
            custom_id = item.get("custom_id")
            if not isinstance(custom_id, str) or custom_id in seen:
                return self._fail(400, f"requests.{n}.custom_id: must be a unique string")
            seen.add(custom_id)
        batch_id = f"msgbatch_{uuid.uuid4().hex[:24]}"
        batch = AnthropicBatch(
            id=batch_id,
            requests=requests,
            outcome=self.batch_outcome,
            polls_until_done=self.batch_polls_until_done,
            results_url=f"{self.base_url}/v1/messages/batches/{batch_id}/results",
        )
        self.batches[batch.id] = batch
        return self.json(batch.to_json())

    async def list_batches(self, request: Request) -> Response:
        data = [b.to_json() for b in reversed(self.batches.values())]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return self.json({"data": data, "has_more": False, "first_id": first, "last_id": last})

    async def retrieve_batch(self, request: Request) -> Response:
        batch = self.batches.get(request.path_params["batch_id"])
        if batch is None:
            return self._fail(404, "No such message batch")
        batch.retrieves += 1
        if batch.processing_status == "canceling":
            self._end(batch, "canceled")
        elif batch.processing_status == "in_progress" and batch.retrieves > batch.polls_until_done:
            self._end(batch, batch.outcome)
        return self.json(batch.to_json())

    async def cancel_batch(self, request: Request) -> Response:
        batch = self.batches.get(request.path_params["batch_id"])
        if batch is None:
            return self._fail(404, "No such message batch")
        if batch.processing_status == "in_progress":
            batch.processing_status = "canceling"
            batch.cancel_initiated_at = datetime.now(UTC)
        return self.json(batch.to_json())

    async def batch_results(self, request: Request) -> Response:
        batch = self.batches.get(request.path_params["batch_id"])
        if batch is None:
            return self._fail(404, "No such message batch")
        if batch.processing_status != "ended":
            return self._fail(404, "Results are not available until the batch has ended")
        data = "".join(json.dumps(line) + "\n" for line in batch.results).encode()
        return Response(data, media_type="application/binary")

    def _end(self, batch: AnthropicBatch, how: str) -> None:
        for item in batch.requests:
            result = self.batch_result(item["params"]) if how == "ended" else {"type": how}
            batch.results.append({"custom_id": item["custom_id"], "result": result})
        batch.processing_status = "ended"
        batch.ended_at = datetime.now(UTC)
