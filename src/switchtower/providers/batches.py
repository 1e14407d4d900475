"""Provider batch APIs through the official SDKs: OpenAI Batch and Anthropic Message
Batches (about half price, answers within 24 hours).

Each function takes the provider's SDK client, so batches use the same keys, base URL and
HTTP client as real-time calls. Answers come back as :class:`Completion` values priced at
the batch entry's (discounted) prices; a request the provider refused, or one it never
answered (an expired batch), comes back as an error, and the queue worker answers it from
its fallbacks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from switchtower.errors import UpstreamRejectedError
from switchtower.protocols import ModelInfo
from switchtower.providers.anthropic_format import to_anthropic, to_openai
from switchtower.providers.common import completion_from_openai, json_bytes, json_loads
from switchtower.types import BatchItemResult, BatchPoll, Request

if TYPE_CHECKING:
    import anthropic
    import openai

__all__ = [
    "poll_anthropic_batch",
    "poll_openai_batch",
    "submit_anthropic_batch",
    "submit_openai_batch",
]

#: OpenAI batch statuses before the answer files exist
_OPENAI_PENDING = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
#: what Anthropic accepts as a custom_id
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ENDPOINT: Literal["/v1/chat/completions"] = "/v1/chat/completions"


def _error_kind(status: int | None) -> str:
    if status is None:
        return "upstream"
    if status == 429:
        return "upstream_rate_limit"
    return "upstream_server" if status >= 500 else "upstream_rejected"


# -- OpenAI Batch -----------------------------------------------------------------------


async def submit_openai_batch(
    client: openai.AsyncOpenAI,
    items: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    timeout: float,
) -> str:
    """Upload ``(custom_id, chat body)`` pairs as a JSONL file and create a batch."""
    lines = [
        json_bytes({"custom_id": cid, "method": "POST", "url": _ENDPOINT, "body": body})
        for cid, body in items
    ]
    data = b"\n".join(lines) + b"\n"
    upload = await client.files.create(
        file=("switchtower-batch.jsonl", data, "application/jsonl"),
        purpose="batch",
        timeout=timeout,
    )
    batch = await client.batches.create(
        input_file_id=upload.id,
        endpoint=_ENDPOINT,
        completion_window="24h",
        metadata={"created_by": "switchtower"},
        timeout=timeout,
    )
    return batch.id


def _openai_line(line: Mapping[str, Any], model: ModelInfo) -> BatchItemResult:
    cid = str(line.get("custom_id"))
    response = line.get("response")
    error = line.get("error")
    if isinstance(response, Mapping):
        status = response.get("status_code")
        body = response.get("body")
        if status == 200 and isinstance(body, Mapping):
            return BatchItemResult(cid, completion=completion_from_openai(body, model))
        err = body.get("error") if isinstance(body, Mapping) else None
        message = err.get("message") if isinstance(err, Mapping) else None
        code = int(status) if isinstance(status, int) else None
        return BatchItemResult(
            cid,
            error_kind=_error_kind(code),
            error_message=str(message or f"status {status}"),
            status=code,
        )
    message = error.get("message") if isinstance(error, Mapping) else None
    return BatchItemResult(cid, error_kind="upstream", error_message=str(message or error))


async def poll_openai_batch(
    client: openai.AsyncOpenAI, model: ModelInfo, batch_id: str, *, timeout: float
) -> BatchPoll:
    batch = await client.batches.retrieve(batch_id, timeout=timeout)
    if batch.status in _OPENAI_PENDING:
        return BatchPoll(batch_id, ended=False, detail=batch.status)
    results: list[BatchItemResult] = []
    for file_id in (batch.output_file_id, batch.error_file_id):
        if not file_id:
            continue
        content = await client.files.content(file_id, timeout=timeout)
        for raw in content.content.splitlines():
            if raw.strip():
                line = json_loads(raw)
                if isinstance(line, Mapping):
                    results.append(_openai_line(line, model))
    return BatchPoll(batch_id, ended=True, detail=batch.status, results=tuple(results))


# -- Anthropic Message Batches ------------------------------------------------------------


def anthropic_params(model_id: str, request: Request) -> dict[str, Any]:
    return to_anthropic(model_id, request.messages, request.params)


async def submit_anthropic_batch(
    client: anthropic.AsyncAnthropic,
    items: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    timeout: float,
) -> str:
    """Create a message batch of ``(custom_id, messages.create params)`` pairs."""
    bad = [cid for cid, _ in items if not _CUSTOM_ID.match(cid)]
    if bad:
        raise UpstreamRejectedError(
            f"Anthropic batch ids must match {_CUSTOM_ID.pattern}: {bad[0]!r}"
        )
    requests: Any = [{"custom_id": cid, "params": dict(params)} for cid, params in items]
    batch = await client.messages.batches.create(requests=requests, timeout=timeout)
    return batch.id


async def poll_anthropic_batch(
    client: anthropic.AsyncAnthropic, model: ModelInfo, batch_id: str, *, timeout: float
) -> BatchPoll:
    batch = await client.messages.batches.retrieve(batch_id, timeout=timeout)
    if batch.processing_status != "ended":
        return BatchPoll(batch_id, ended=False, detail=batch.processing_status)
    results: list[BatchItemResult] = []
    async for item in await client.messages.batches.results(batch_id, timeout=timeout):
        result = item.result
        if result.type == "succeeded":
            raw = to_openai(result.message.model_dump(mode="json", exclude_unset=True))
            results.append(BatchItemResult(item.custom_id, completion_from_openai(raw, model)))
        elif result.type == "errored":
            err = result.error.error
            results.append(
                BatchItemResult(
                    item.custom_id,
                    error_kind="upstream_rejected"
                    if err.type == "invalid_request_error"
                    else "upstream_server",
                    error_message=f"{err.type}: {err.message}",
                )
            )
        else:  # canceled, expired
            results.append(
                BatchItemResult(
                    item.custom_id, error_kind="upstream", error_message=f"request {result.type}"
                )
            )
    return BatchPoll(batch_id, ended=True, detail=batch.processing_status, results=tuple(results))
