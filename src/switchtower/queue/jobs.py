"""A job: one deferred request, its plan, and (once answered) its result.

Statuses, in order: ``queued`` (stored, waiting for its batch to fill or linger out),
``submitting`` (a worker is sending it; a lease bounds how long), ``submitted`` (in a
provider batch), ``running`` (a worker answers it from its fallbacks: the batch failed or
the deadline drew near), then ``completed`` or ``failed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from switchtower.errors import DataFormatError, hide_urls
from switchtower.store.codec import completion_from_json, completion_to_json
from switchtower.types import DEADLINES, TIERS, Completion, Request, Trace

__all__ = [
    "JOB_STATUSES",
    "Job",
    "JobStatus",
    "NotifyState",
    "completion_from_json",
    "completion_to_json",
    "request_from_json",
    "request_to_json",
]

JobStatus = Literal["queued", "submitting", "submitted", "running", "completed", "failed"]
NotifyState = Literal["pending", "delivered", "gave_up"]
JOB_STATUSES: tuple[JobStatus, ...] = get_args(JobStatus)
#: statuses a job never leaves
FINAL: frozenset[str] = frozenset({"completed", "failed"})


def request_to_json(request: Request) -> dict[str, Any]:
    """Everything needed to send the request again (the job row's ``request``)."""
    return {
        "id": request.id,
        "received_at": request.received_at,
        "messages": list(request.messages),
        "params": dict(request.params),
        "deadline": request.deadline,
        "operation": request.operation,
        "pinned_tier": request.pinned_tier,
        "max_tier": request.max_tier,
        "max_cost_usd": request.max_cost_usd,
        "value_per_success_usd": request.value_per_success_usd,
        "model": request.model,
        "accept_deferred": request.accept_deferred,
    }


def _tier(value: object) -> Any:
    if value is None or value in TIERS:
        return value
    raise DataFormatError(f"stored job has an unknown tier {value!r}")


def request_from_json(d: Mapping[str, Any]) -> Request:
    deadline = d.get("deadline", "interactive")
    if deadline not in DEADLINES:
        raise DataFormatError(f"stored job has an unknown deadline {deadline!r}")
    messages = d.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, Mapping) for m in messages):
        raise DataFormatError("stored job has no list of messages")
    return Request(
        messages=tuple(messages),
        deadline=deadline,
        operation=d.get("operation"),
        pinned_tier=_tier(d.get("pinned_tier")),
        max_tier=_tier(d.get("max_tier")),
        max_cost_usd=d.get("max_cost_usd"),
        value_per_success_usd=d.get("value_per_success_usd"),
        model=d.get("model"),
        params=dict(d.get("params") or {}),
        accept_deferred=bool(d.get("accept_deferred", True)),
        id=str(d["id"]),
        received_at=float(d["received_at"]),
    )


@dataclass(frozen=True, slots=True)
class Job:
    """One deferred request. ``trace`` is the planned trace (status ``queued``) that the
    answer completes; ``result`` the answer (:func:`completion_to_json`)."""

    id: str
    created_at: float
    updated_at: float
    deadline_at: float
    status: JobStatus
    model: str
    request: Request
    trace: Trace
    fallbacks: tuple[str, ...] = ()
    fmt: Literal["openai", "anthropic"] = "openai"
    api_key_id: str | None = None
    batch_id: str | None = None
    result: Mapping[str, Any] | None = None
    error_kind: str | None = None
    error_message: str | None = None
    #: the client's webhook, told when the job finishes (``queue/webhooks.py``)
    webhook_url: str | None = None
    #: None without a webhook; ``pending`` once finished, then ``delivered`` or ``gave_up``
    notify_state: NotifyState | None = None
    notify_attempts: int = 0
    notify_error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in FINAL

    @property
    def completion(self) -> Completion | None:
        """The answer of a completed job."""
        return completion_from_json(self.result) if self.result is not None else None

    def to_json(self) -> dict[str, Any]:
        """The public view (``GET /v1/jobs/{id}``, ``switchtower jobs``): no prompt."""
        out: dict[str, Any] = {
            "id": self.id,
            "object": "switchtower.job",
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "deadline_at": self.deadline_at,
            "operation": self.trace.operation,
            "tier": self.trace.tier,
            "model": self.model,
            "fallbacks": list(self.fallbacks),
            "batch_id": self.batch_id,
            "url": f"/v1/jobs/{self.id}",  # on the gateway
        }
        if self.error_kind is not None:  # shown to the client and its webhook
            out["error"] = {"kind": self.error_kind, "message": hide_urls(self.error_message or "")}
        if self.webhook_url is not None:
            out["webhook"] = {
                "url": self.webhook_url,
                "state": self.notify_state or "waiting",
                "attempts": self.notify_attempts,
                "error": self.notify_error,
            }
        return out
