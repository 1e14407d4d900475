"""The OpenAI Batch API for :class:`~fakes.openai_upstream.FakeOpenAI`: ``POST /v1/batches``,
``GET /v1/batches[/{id}]`` and ``POST /v1/batches/{id}/cancel`` (the input and result
files go through :mod:`fakes.openai_files`).

A batch reports ``validating`` when created, ``in_progress`` for its first
``batch_polls_until_done`` retrieves, then its ``batch_outcome``: ``completed`` (each line
answered as ``/v1/chat/completions`` would; 2xx lines in the output file, the others in
the error file), ``failed`` (no files, ``errors`` set) or ``expired`` (every line in the
error file with code ``batch_expired``). An input file that fails validation (bad JSON,
wrong url/method, duplicate ``custom_id``, mixed models) makes the batch ``failed`` at the
first retrieve. A cancelled batch reports ``cancelling`` and then ``cancelled``, with no
results (the fake answers lines only when a batch finishes)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakes.openai_files import OpenAIFiles

__all__ = ["OpenAIBatch", "OpenAIBatchOutcome", "OpenAIBatches"]

OpenAIBatchOutcome = Literal["completed", "failed", "expired"]

_ENDPOINT = "/v1/chat/completions"
_EXPIRED = "This request could not be executed before the completion window expired."


@dataclass
class OpenAIBatch:
    """One created batch: what was submitted (``lines``, parsed, in file order) and its
    state. ``output``/``error_lines`` are the result lines once it has finished."""

    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None
    lines: list[dict[str, Any]]
    outcome: OpenAIBatchOutcome
    polls_until_done: int
    invalid: list[dict[str, Any]] = field(default_factory=list)
    status: str = "validating"
    retrieves: int = 0
    created_at: int = field(default_factory=lambda: int(time.time()))
    times: dict[str, int] = field(default_factory=dict)
    output: list[dict[str, Any]] = field(default_factory=list)
    error_lines: list[dict[str, Any]] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None

    @property
    def model(self) -> str | None:
        models = {str(line.get("body", {}).get("model")) for line in self.lines}
        return models.pop() if len(models) == 1 else None

    def to_json(self) -> dict[str, Any]:
        done = self.status in ("completed", "expired", "cancelled")
        stamps = ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling")
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.model,
            "errors": self.errors,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            **{f"{s}_at": self.times.get(s) for s in stamps},
            "cancelled_at": self.times.get("cancelled"),
            "expires_at": self.created_at + 86400,
            "request_counts": {
                "total": len(self.lines),
                "completed": len(self.output) if done else 0,
                "failed": len(self.error_lines) if done else 0,
            },
            "usage": self.usage,
            "metadata": self.metadata,
        }


_Lines = list[dict[str, Any]]


def _validate_lines(data: bytes, endpoint: str) -> tuple[_Lines, _Lines]:
    """The input file's lines, and the validation errors that fail the batch."""
    lines: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []

    def fail(code: str, message: str, line: int | None, param: str | None = None) -> None:
        errors.append({"code": code, "message": message, "param": param, "line": line})

    seen: set[str] = set()
    for n, raw in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            fail("invalid_json_line", "This line is not parseable as valid JSON.", n)
            continue
        if not isinstance(line, dict) or not isinstance(line.get("body"), dict):
            fail("invalid_request", "Each line needs custom_id, method, url and body.", n)
            continue
        if line.get("url") != endpoint or line.get("method") != "POST":
            fail("invalid_url", f"Each line must be a POST to {endpoint}.", n, "url")
        if not isinstance(line.get("custom_id"), str) or line["custom_id"] in seen:
            fail("duplicate_custom_id", "custom_id must be a unique string.", n, "custom_id")
        seen.add(str(line.get("custom_id")))
        lines.append(line)
    if not lines and not errors:
        fail("empty_file", "The input file is empty.", None)
    if len({str(line["body"].get("model")) for line in lines}) > 1:
        fail("mismatched_model", "All lines of a batch must use the same model.", None, "model")
    return lines, errors


class OpenAIBatches(OpenAIFiles):
    """Mixin base of ``FakeOpenAI`` adding the Batch API (files: :class:`OpenAIFiles`).

    Knobs (read when a batch is created; ``reset()`` restores them):
    ``batch_polls_until_done`` (retrieves answering ``in_progress``) and ``batch_outcome``.
    Log: ``batches`` (a dict by id, in creation order).
    """

    def __init__(self) -> None:
        super().__init__()
        self.batches: dict[str, OpenAIBatch] = {}
        self.batch_polls_until_done = 1
        self.batch_outcome: OpenAIBatchOutcome = "completed"

    def batch_answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One line's (HTTP status, response body); provided by the concrete fake."""
        raise NotImplementedError

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.batches.clear()
            self.batch_polls_until_done = 1
            self.batch_outcome = "completed"

    def batch_routes(self) -> list[Route]:
        return [
            *self.file_routes(),
            Route("/v1/batches", self.create_batch, methods=["POST"]),
            Route("/v1/batches", self.list_batches, methods=["GET"]),
            Route("/v1/batches/{batch_id}", self.retrieve_batch, methods=["GET"]),
            Route("/v1/batches/{batch_id}/cancel", self.cancel_batch, methods=["POST"]),
        ]

    async def create_batch(self, request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        stored = self.files.get(str(body.get("input_file_id")))
        if stored is None:
            return self._fail(404, f"No such file: {body.get('input_file_id')}")
        if stored.purpose != "batch":
            return self._fail(400, "The input file must have purpose 'batch'")
        if body.get("endpoint") != _ENDPOINT or body.get("completion_window") != "24h":
            return self._fail(400, f"endpoint must be {_ENDPOINT}; completion_window '24h'")
        lines, invalid = _validate_lines(stored.data, _ENDPOINT)
        batch = OpenAIBatch(
            id=f"batch_{uuid.uuid4().hex[:24]}",
            input_file_id=stored.id,
            endpoint=_ENDPOINT,
            completion_window="24h",
            metadata=body.get("metadata"),
            lines=lines,
            outcome=self.batch_outcome,
            polls_until_done=self.batch_polls_until_done,
            invalid=invalid,
        )
        self.batches[batch.id] = batch
        return self.json(batch.to_json())

    async def list_batches(self, request: Request) -> Response:
        data = [b.to_json() for b in reversed(self.batches.values())]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        page = {"object": "list", "data": data, "first_id": first, "last_id": last}
        return self.json({**page, "has_more": False})

    async def retrieve_batch(self, request: Request) -> Response:
        batch = self.batches.get(request.path_params["batch_id"])
        if batch is None:
            return self._fail(404, "No such batch")
        self._advance(batch)
        return self.json(batch.to_json())

    async def cancel_batch(self, request: Request) -> Response:
        batch = self.batches.get(request.path_params["batch_id"])
        if batch is None:
            return self._fail(404, "No such batch")
        if batch.status not in ("validating", "in_progress"):
            return self._fail(409, f"Cannot cancel a batch with status '{batch.status}'.")
        batch.status, batch.times["cancelling"] = "cancelling", int(time.time())
        return self.json(batch.to_json())

    def _advance(self, batch: OpenAIBatch) -> None:
        """One retrieve's worth of progress."""
        batch.retrieves += 1
        now = int(time.time())
        if batch.status == "cancelling":
            batch.status, batch.times["cancelled"] = "cancelled", now
        elif batch.status not in ("validating", "in_progress"):
            return
        elif batch.invalid:
            batch.status, batch.times["failed"] = "failed", now
            batch.errors = {"object": "list", "data": batch.invalid}
        elif batch.retrieves <= batch.polls_until_done:
            batch.status = "in_progress"
            batch.times.setdefault("in_progress", now)
        else:
            batch.times.setdefault("in_progress", now)
            self._finish(batch, now)

    def _finish(self, batch: OpenAIBatch, now: int) -> None:
        batch.status = batch.outcome
        batch.times[batch.outcome] = now
        if batch.outcome == "failed":
            failure = {"code": "batch_failed", "message": "The batch failed (scripted)."}
            batch.errors = {"object": "list", "data": [{**failure, "param": None, "line": None}]}
            return
        tokens = {"prompt_tokens": 0, "completion_tokens": 0}
        for line in batch.lines:
            result: dict[str, Any] = {"id": f"batch_req_{uuid.uuid4().hex[:24]}"}
            result["custom_id"] = line.get("custom_id")
            if batch.outcome == "expired":
                result["response"] = None
                result["error"] = {"code": "batch_expired", "message": _EXPIRED}
                batch.error_lines.append(result)
                continue
            status, body = self.batch_answer(line["body"])
            request_id = f"req_{uuid.uuid4().hex[:24]}"
            result["response"] = {"status_code": status, "request_id": request_id, "body": body}
            result["error"] = None
            (batch.output if status < 300 else batch.error_lines).append(result)
            for key in tokens:
                tokens[key] += int((body.get("usage") or {}).get(key, 0))
        if batch.outcome == "completed":
            batch.times["finalizing"] = now
            batch.usage = {
                "input_tokens": tokens["prompt_tokens"],
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": tokens["completion_tokens"],
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": sum(tokens.values()),
            }
        batch.output_file_id = self._write(f"{batch.id}_output.jsonl", batch.output)
        batch.error_file_id = self._write(f"{batch.id}_error.jsonl", batch.error_lines)

    def _write(self, filename: str, rows: list[dict[str, Any]]) -> str | None:
        """Store result lines as a ``batch_output`` JSONL file; its id (None if no rows)."""
        if not rows:
            return None
        data = "".join(json.dumps(row) + "\n" for row in rows).encode()
        return self._store(filename, "batch_output", data).id
