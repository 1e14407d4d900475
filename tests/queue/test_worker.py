"""The queue worker against the fake OpenAI Batch and Anthropic Message Batches APIs,
driven through the official SDKs: submit, poll, store the answer and its trace; answer
from the fallbacks what a batch did not; survive a restart between submit and poll."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from server.harness import build_pipeline, gateway_config
from switchtower.errors import InvalidRequestError, UpstreamServerError
from switchtower.pipeline import Pipeline
from switchtower.queue import JobStore, QueueWorker
from switchtower.store import SqlTraceStore
from switchtower.types import Decision, Request, Selection

FAST = {"linger_s": 0.0, "poll_s": 0.01, "rescue_margin_s": 0.0}


def pipeline(
    openai: FakeOpenAI,
    anthropic: FakeAnthropic | None,
    traces: SqlTraceStore,
    url: str,
    **queue: Any,
) -> Pipeline:
    config = gateway_config(openai, anthropic, batch=True, queue={**FAST, **queue})
    return build_pipeline(config, traces, JobStore.open(url))


def deferred(text: str = "summarize the quarterly notes", **kw: Any) -> Request:
    return Request.from_text(
        text, deadline="batch", pinned_tier="async", accept_deferred=True, **kw
    )


def with_selection(decision: Decision, model: str, fallbacks: tuple[str, ...]) -> Decision:
    """The plan with another async-tier model chosen (and these fallbacks)."""
    selection = Selection(model=model, tier="async", estimate=0.9, fallbacks=fallbacks)
    return replace(decision, selection=selection)


async def until_done(worker: QueueWorker, job_id: str, ticks: int = 20) -> None:
    for _ in range(ticks):
        await worker.tick()
        job = worker.jobs.get(job_id)
        assert job is not None
        if job.done:
            return
        await asyncio.sleep(0.02)  # the next poll is due after poll_s
    raise AssertionError(f"job {job_id} not done after {ticks} ticks")


async def test_an_openai_batch_answers_a_deferred_request(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, None, traces, url)
    decision = pipe.plan(deferred())
    assert pipe.defers(decision)
    with pytest.raises(InvalidRequestError, match="batch API"):
        await pipe.execute(decision)
    job = pipe.submit(decision)
    assert (job.status, job.model, job.fallbacks) == ("queued", "fake-batch", ("fake-queued",))
    assert pipe.jobs is not None
    worker = QueueWorker(pipe, pipe.jobs)
    fake_openai.batch_polls_until_done = 1
    first = await worker.tick()
    assert (first.batches_submitted, first.jobs_submitted) == (1, 1)
    (batch,) = fake_openai.batches.values()
    assert batch.lines[0]["custom_id"] == job.id
    assert batch.lines[0]["body"]["model"] == "batch-model"
    assert batch.lines[0]["body"]["messages"] == [
        {"role": "user", "content": "summarize the quarterly notes"}
    ]
    await until_done(worker, job.id)
    done = pipe.jobs.get(job.id)
    assert done is not None
    assert done.status == "completed"
    assert done.completion is not None
    assert done.completion.text == "echo: summarize the quarterly notes"
    assert not fake_openai.requests  # nothing went to the real-time endpoint
    trace = traces.get(job.id)
    assert trace is not None
    assert (trace.status, trace.tier, trace.model) == ("ok", "async", "fake-batch")
    (attempt,) = trace.attempts
    assert attempt.ok
    assert attempt.usage == done.completion.usage
    # the batch entry's prices are half the list prices (batch_discount 0.5)
    usage = done.completion.usage
    expected = (usage.input_tokens * 0.5 + usage.output_tokens * 1.0) / 1e6
    assert trace.cost_usd == pytest.approx(expected)
    await pipe.aclose()


async def test_an_anthropic_batch_answers_a_deferred_request(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, fake_anthropic, traces, url)
    assert pipe.jobs is not None
    # the first model of the tier is the OpenAI entry: name the Anthropic one
    job = pipe.submit(
        with_selection(
            pipe.plan(deferred("summarize the log")), "fake-claude-batch", ("fake-queued",)
        )
    )
    worker = QueueWorker(pipe, pipe.jobs)
    await until_done(worker, job.id)
    (batch,) = fake_anthropic.batches.values()
    assert batch.requests[0]["params"]["model"] == "claude-batch"
    done = pipe.jobs.get(job.id)
    assert done is not None
    assert done.completion is not None
    assert done.completion.model == "fake-claude-batch"
    assert "summarize the log" in done.completion.text
    trace = traces.get(job.id)
    assert trace is not None
    assert (trace.status, trace.model) == ("ok", "fake-claude-batch")
    await pipe.aclose()


async def test_an_expired_batch_is_answered_by_the_fallback(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, None, traces, url)
    assert pipe.jobs is not None
    fake_openai.batch_outcome = "expired"
    job = pipe.submit(pipe.plan(deferred()))
    await until_done(QueueWorker(pipe, pipe.jobs), job.id)
    done = pipe.jobs.get(job.id)
    assert done is not None
    assert done.completion is not None
    assert done.completion.model == "fake-queued"
    assert fake_openai.requests[-1]["model"] == "queued-small"
    trace = traces.get(job.id)
    assert trace is not None
    assert [(a.model, a.ok) for a in trace.attempts] == [
        ("fake-batch", False),
        ("fake-queued", True),
    ]
    assert trace.model == "fake-queued"
    await pipe.aclose()


async def test_without_a_fallback_an_unanswered_job_fails_with_the_reason(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, None, traces, url)
    assert pipe.jobs is not None
    fake_openai.batch_outcome = "expired"
    job = pipe.submit(with_selection(pipe.plan(deferred()), "fake-batch", ()))
    await until_done(QueueWorker(pipe, pipe.jobs), job.id)
    failed = pipe.jobs.get(job.id)
    assert failed is not None
    assert failed.status == "failed"
    assert failed.error_kind == "no_eligible_model"
    assert "no fallback" in (failed.error_message or "")
    trace = traces.get(job.id)
    assert trace is not None
    assert trace.status == "error"
    await pipe.aclose()


async def test_a_job_near_its_deadline_is_rescued_in_real_time(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, None, traces, url, rescue_margin_s=900)
    assert pipe.jobs is not None
    job = pipe.submit(pipe.plan(deferred()))
    fake_openai.batch_polls_until_done = 100  # a batch that will not answer in time
    first = await QueueWorker(pipe, pipe.jobs).tick()
    assert (first.rescued, first.jobs_submitted) == (0, 1)  # a day is left: sent
    late = job.deadline_at - 600  # ten minutes before the deadline, inside the margin
    pipe.jobs.clock = lambda: late
    report = await QueueWorker(pipe, pipe.jobs, clock=lambda: late).tick()
    assert (report.rescued, report.completed) == (1, 1)
    done = pipe.jobs.get(job.id)
    assert done is not None
    assert done.completion is not None
    assert done.completion.model == "fake-queued"
    assert len(fake_openai.batches) == 1  # the slow batch was not waited for
    # nothing in it is waited for any more: the provider is told to stop
    assert report.batches_cancelled == 1
    (batch,) = fake_openai.batches.values()
    assert batch.status == "cancelling"
    await pipe.aclose()


async def test_a_batch_with_jobs_still_waiting_is_not_cancelled(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, None, traces, url, rescue_margin_s=900)
    assert pipe.jobs is not None
    early = pipe.submit(pipe.plan(deferred("summarize the first log")))
    pipe.submit(pipe.plan(deferred("summarize the second log", received_at=time.time() + 7200)))
    fake_openai.batch_polls_until_done = 100
    first = await QueueWorker(pipe, pipe.jobs).tick()
    assert (first.batches_submitted, first.jobs_submitted) == (1, 2)  # one batch of two
    late = early.deadline_at - 600  # the first is due, the second has two more hours
    pipe.jobs.clock = lambda: late
    report = await QueueWorker(pipe, pipe.jobs, clock=lambda: late).tick()
    assert (report.rescued, report.batches_cancelled) == (1, 0)
    (batch,) = fake_openai.batches.values()
    assert batch.status == "in_progress"
    await pipe.aclose()


async def test_an_anthropic_batch_answered_elsewhere_is_cancelled(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, fake_anthropic, traces, url, rescue_margin_s=900)
    assert pipe.jobs is not None
    plan = pipe.plan(deferred("summarize the log"))
    job = pipe.submit(with_selection(plan, "fake-claude-batch", ("fake-queued",)))
    fake_anthropic.batch_polls_until_done = 100
    assert (await QueueWorker(pipe, pipe.jobs).tick()).jobs_submitted == 1
    late = job.deadline_at - 600
    pipe.jobs.clock = lambda: late
    report = await QueueWorker(pipe, pipe.jobs, clock=lambda: late).tick()
    assert (report.rescued, report.completed, report.batches_cancelled) == (1, 1, 1)
    (batch,) = fake_anthropic.batches.values()
    assert batch.processing_status == "canceling"
    await pipe.aclose()


async def test_a_restart_between_submit_and_answer_loses_nothing(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, None, traces, url)
    assert pipe.jobs is not None
    fake_openai.batch_polls_until_done = 3
    job = pipe.submit(pipe.plan(deferred()))
    await QueueWorker(pipe, pipe.jobs).tick()
    await pipe.aclose()  # the process goes away with its batch in flight
    again = pipeline(fake_openai, None, traces, url)
    assert again.jobs is not None
    assert again.jobs.get(job.id).status == "submitted"  # type: ignore[union-attr]
    await until_done(QueueWorker(again, again.jobs), job.id)
    assert len(fake_openai.batches) == 1  # polled the same batch, not sent twice
    assert again.jobs.get(job.id).status == "completed"  # type: ignore[union-attr]
    await again.aclose()


async def test_a_failed_submission_is_retried(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = pipeline(fake_openai, None, traces, url)
    assert pipe.jobs is not None
    job = pipe.submit(pipe.plan(deferred()))
    provider = pipe.providers["openai"]
    real = provider.submit_batch  # type: ignore[attr-defined]

    async def down(*args: Any) -> str:
        raise UpstreamServerError("upload failed", model="fake-batch", status=500)

    monkeypatch.setattr(provider, "submit_batch", down)
    worker = QueueWorker(pipe, pipe.jobs)
    assert (await worker.tick()).batches_submitted == 0
    assert pipe.jobs.get(job.id).status == "queued"  # type: ignore[union-attr]
    monkeypatch.setattr(provider, "submit_batch", real)
    await until_done(worker, job.id)
    assert len(fake_openai.batches) == 1
    await pipe.aclose()


def test_without_a_job_store_batch_entries_cannot_serve(
    fake_openai: FakeOpenAI, traces: SqlTraceStore
) -> None:
    config = gateway_config(fake_openai, batch=True)
    pipe = build_pipeline(config, traces)
    (batch,) = [m for m in pipe.tiers["async"].models if m.batch]
    assert not batch.available
    assert "job" in (batch.unavailable_reason or "")
