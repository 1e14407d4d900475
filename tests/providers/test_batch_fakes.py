"""The fakes' Batch APIs, driven by the official ``openai`` and ``anthropic`` SDKs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest
from anthropic.types.messages import MessageBatchIndividualResponse

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI

# -- OpenAI ------------------------------------------------------------------------------


def _line(custom_id: str, text: str, model: str = "fake-model", **body: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}] if text else []
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": messages, **body},
    }


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


@pytest.fixture
async def oai(fake_openai: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=fake_openai.base_url, api_key="x", max_retries=0
    ) as client:
        yield client


async def _submit(client: openai.AsyncOpenAI, rows: list[dict[str, Any]]) -> openai.types.Batch:
    uploaded = await client.files.create(
        file=("b.jsonl", _jsonl(rows), "application/jsonl"), purpose="batch"
    )
    assert uploaded.purpose == "batch"
    assert uploaded.bytes == len(_jsonl(rows))
    assert uploaded.id.startswith("file-")
    return await client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "t1"},
    )


async def _rows(client: openai.AsyncOpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    content = await client.files.content(file_id)
    return [json.loads(line) for line in content.text.splitlines()]


async def test_openai_batch_round_trip(fake_openai: FakeOpenAI, oai: openai.AsyncOpenAI) -> None:
    rows = [_line("a", "hello there"), _line("b", "second one", max_tokens=2)]
    batch = await _submit(oai, rows)
    assert batch.id.startswith("batch_")
    assert batch.status == "validating"
    assert batch.metadata == {"job": "t1"}
    assert batch.request_counts is not None
    assert batch.request_counts.total == 2

    assert (await oai.batches.retrieve(batch.id)).status == "in_progress"
    done = await oai.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.error_file_id is None
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 0)
    assert done.usage is not None
    assert done.usage.output_tokens == 3 + 2

    out = {row["custom_id"]: row for row in await _rows(oai, done.output_file_id)}
    assert set(out) == {"a", "b"}
    first = out["a"]
    assert first["id"].startswith("batch_req_")
    assert first["error"] is None
    assert first["response"]["status_code"] == 200
    completion = openai.types.chat.ChatCompletion.model_validate(first["response"]["body"])
    assert completion.model == "fake-model"
    assert completion.choices[0].message.content == "echo: hello there"
    assert out["b"]["response"]["body"]["choices"][0]["finish_reason"] == "length"

    [logged] = fake_openai.batches.values()
    assert logged.id == batch.id
    assert [line["custom_id"] for line in logged.lines] == ["a", "b"]
    assert logged.lines[0]["body"]["messages"][0]["content"] == "hello there"
    assert fake_openai.requests == []  # batch lines are not logged as chat calls


@pytest.mark.parametrize("polls", [0, 3])
async def test_openai_polls_until_done(
    fake_openai: FakeOpenAI, oai: openai.AsyncOpenAI, polls: int
) -> None:
    fake_openai.batch_polls_until_done = polls
    batch = await _submit(oai, [_line("a", "hi")])
    statuses = [(await oai.batches.retrieve(batch.id)).status for _ in range(polls + 2)]
    assert statuses == ["in_progress"] * polls + ["completed", "completed"]


async def test_openai_invalid_and_scripted_lines_go_to_the_error_file(
    fake_openai: FakeOpenAI, oai: openai.AsyncOpenAI
) -> None:
    fake_openai.batch_polls_until_done = 0
    fake_openai.reply("scripted answer", times=1)
    fake_openai.fail(500, times=1)
    batch = await _submit(oai, [_line("bad", ""), _line("ok", "hi"), _line("boom", "hi")])
    done = await oai.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (1, 2)
    [ok] = await _rows(oai, done.output_file_id)
    assert ok["response"]["body"]["choices"][0]["message"]["content"] == "scripted answer"
    errors = {row["custom_id"]: row for row in await _rows(oai, done.error_file_id)}
    assert errors["bad"]["response"]["status_code"] == 400
    assert errors["bad"]["response"]["body"]["error"]["type"] == "invalid_request_error"
    assert errors["boom"]["response"]["status_code"] == 500


async def test_openai_expired_batch(fake_openai: FakeOpenAI, oai: openai.AsyncOpenAI) -> None:
    fake_openai.batch_outcome = "expired"
    batch = await _submit(oai, [_line("a", "hi"), _line("b", "yo")])
    await oai.batches.retrieve(batch.id)
    done = await oai.batches.retrieve(batch.id)
    assert done.status == "expired"
    assert done.expired_at is not None
    assert done.output_file_id is None
    rows = await _rows(oai, done.error_file_id)
    assert [r["custom_id"] for r in rows] == ["a", "b"]
    assert all(r["response"] is None and r["error"]["code"] == "batch_expired" for r in rows)


async def test_openai_failed_batch(fake_openai: FakeOpenAI, oai: openai.AsyncOpenAI) -> None:
    fake_openai.batch_outcome = "failed"
    fake_openai.batch_polls_until_done = 0
    batch = await _submit(oai, [_line("a", "hi")])
    done = await oai.batches.retrieve(batch.id)
    assert done.status == "failed"
    assert done.failed_at is not None
    assert (done.output_file_id, done.error_file_id) == (None, None)
    assert done.errors is not None
    assert done.errors.data


async def test_openai_invalid_input_file_fails_validation(
    fake_openai: FakeOpenAI, oai: openai.AsyncOpenAI
) -> None:
    fake_openai.batch_polls_until_done = 5
    bad_url = {**_line("b", "hi"), "url": "/v1/embeddings"}
    batch = await _submit(oai, [_line("a", "hi"), bad_url, _line("a", "again")])
    done = await oai.batches.retrieve(batch.id)
    assert done.status == "failed"
    assert done.errors is not None
    assert done.errors.data is not None
    assert [(e.code, e.line) for e in done.errors.data] == [
        ("invalid_url", 2),
        ("duplicate_custom_id", 3),
    ]


async def test_openai_cancel(fake_openai: FakeOpenAI, oai: openai.AsyncOpenAI) -> None:
    batch = await _submit(oai, [_line("a", "hi")])
    assert (await oai.batches.cancel(batch.id)).status == "cancelling"
    done = await oai.batches.retrieve(batch.id)
    assert done.status == "cancelled"
    assert done.cancelled_at is not None
    with pytest.raises(openai.ConflictError):
        await oai.batches.cancel(batch.id)


async def test_openai_files_and_batches_lookups(
    fake_openai: FakeOpenAI, oai: openai.AsyncOpenAI
) -> None:
    batch = await _submit(oai, [_line("a", "hi")])
    meta = await oai.files.retrieve(batch.input_file_id)
    assert meta.filename == "b.jsonl"
    raw = await oai.files.content(batch.input_file_id)
    assert json.loads(raw.content.splitlines()[0])["custom_id"] == "a"
    assert [b.id async for b in oai.batches.list()] == [batch.id]
    with pytest.raises(openai.NotFoundError):
        await oai.batches.retrieve("batch_missing")
    with pytest.raises(openai.NotFoundError):
        await oai.batches.create(
            input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h"
        )


# -- Anthropic ---------------------------------------------------------------------------


def _request(custom_id: str, text: str, **params: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    return {
        "custom_id": custom_id,
        "params": {"model": "fake-claude", "max_tokens": 16, "messages": messages, **params},
    }


@pytest.fixture
async def ant(fake_anthropic: FakeAnthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=fake_anthropic.base_url, api_key="x", max_retries=0
    ) as client:
        yield client


async def _results(
    client: anthropic.AsyncAnthropic, batch_id: str
) -> dict[str, MessageBatchIndividualResponse]:
    return {r.custom_id: r async for r in await client.messages.batches.results(batch_id)}


async def test_anthropic_batch_round_trip(
    fake_anthropic: FakeAnthropic, ant: anthropic.AsyncAnthropic
) -> None:
    batch = await ant.messages.batches.create(
        requests=[_request("a", "hello there"), _request("b", "again")]  # type: ignore[list-item]
    )
    assert batch.id.startswith("msgbatch_")
    assert batch.type == "message_batch"
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 2
    assert batch.results_url is None
    assert batch.expires_at > batch.created_at

    assert (await ant.messages.batches.retrieve(batch.id)).processing_status == "in_progress"
    done = await ant.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended"
    assert done.ended_at is not None
    assert done.results_url == f"{fake_anthropic.base_url}/v1/messages/batches/{batch.id}/results"
    assert (done.request_counts.processing, done.request_counts.succeeded) == (0, 2)

    results = await _results(ant, batch.id)
    assert set(results) == {"a", "b"}
    first = results["a"].result
    assert first.type == "succeeded"
    assert first.message.model == "fake-claude"
    assert first.message.content[0].type == "text"
    assert first.message.content[0].text == "echo: hello there"

    [logged] = fake_anthropic.batches.values()
    assert [r["custom_id"] for r in logged.requests] == ["a", "b"]
    assert logged.requests[0]["params"]["messages"][0]["content"] == "hello there"


async def test_anthropic_polls_until_done(
    fake_anthropic: FakeAnthropic, ant: anthropic.AsyncAnthropic
) -> None:
    fake_anthropic.batch_polls_until_done = 2
    batch = await ant.messages.batches.create(requests=[_request("a", "hi")])  # type: ignore[list-item]
    statuses = [(await ant.messages.batches.retrieve(batch.id)).processing_status for _ in range(4)]
    assert statuses == ["in_progress", "in_progress", "ended", "ended"]


async def test_anthropic_errored_results(
    fake_anthropic: FakeAnthropic, ant: anthropic.AsyncAnthropic
) -> None:
    fake_anthropic.batch_polls_until_done = 0
    fake_anthropic.fail(529, times=1)
    bad = _request("bad", "hi")
    bad["params"]["messages"] = [{"role": "system", "content": "no"}]
    batch = await ant.messages.batches.create(
        requests=[bad, _request("busy", "hi"), _request("ok", "hi")]  # type: ignore[list-item]
    )
    done = await ant.messages.batches.retrieve(batch.id)
    counts = done.request_counts
    assert (counts.succeeded, counts.errored) == (1, 2)
    results = await _results(ant, batch.id)
    errors = {}
    for custom_id in ("bad", "busy"):
        result = results[custom_id].result
        assert result.type == "errored"
        errors[custom_id] = result.error.error.type
    assert errors == {"bad": "invalid_request_error", "busy": "overloaded_error"}
    assert results["ok"].result.type == "succeeded"


async def test_anthropic_expired_batch(
    fake_anthropic: FakeAnthropic, ant: anthropic.AsyncAnthropic
) -> None:
    fake_anthropic.batch_outcome = "expired"
    fake_anthropic.batch_polls_until_done = 0
    batch = await ant.messages.batches.create(
        requests=[_request("a", "hi"), _request("b", "yo")]  # type: ignore[list-item]
    )
    done = await ant.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended"
    assert done.request_counts.expired == 2
    results = await _results(ant, batch.id)
    assert {r.result.type for r in results.values()} == {"expired"}


async def test_anthropic_cancel(
    fake_anthropic: FakeAnthropic, ant: anthropic.AsyncAnthropic
) -> None:
    batch = await ant.messages.batches.create(requests=[_request("a", "hi")])  # type: ignore[list-item]
    canceling = await ant.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    done = await ant.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended"
    assert done.request_counts.canceled == 1
    assert (await _results(ant, batch.id))["a"].result.type == "canceled"


async def test_anthropic_refusals(
    fake_anthropic: FakeAnthropic, ant: anthropic.AsyncAnthropic
) -> None:
    with pytest.raises(anthropic.BadRequestError):
        await ant.messages.batches.create(requests=[_request("a", "hi"), _request("a", "yo")])  # type: ignore[list-item]
    batch = await ant.messages.batches.create(requests=[_request("a", "hi")])  # type: ignore[list-item]
    with pytest.raises(anthropic.AnthropicError, match="results_url"):
        await ant.messages.batches.results(batch.id)
    with pytest.raises(anthropic.NotFoundError):
        await ant.messages.batches.retrieve("msgbatch_missing")
    assert [b.id async for b in ant.messages.batches.list()] == [batch.id]
