"""Deferred requests through the live gateway, with the official SDKs as clients: the
``async`` hint gives HTTP 202 and a job; the gateway's own queue worker sends the batch
to the fake batch API; ``GET /v1/jobs/{id}`` returns the answer in the request's format."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import sqlalchemy as sa

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from server.harness import LiveGateway, build_pipeline, gateway_config
from switchtower.queue import JobStore
from switchtower.server import KeyStore, MemoryLimiter
from switchtower.server.app import _start_queue_worker
from switchtower.store import SqlTraceStore, open_store

HINTS = {"x-switchtower-async": "true", "x-switchtower-deadline": "batch"}


@pytest.fixture
def gateway(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> Iterator[tuple[LiveGateway, SqlTraceStore]]:
    url = f"sqlite:///{tmp_path / 'st.db'}"
    traces = open_store(url, spool_dir=tmp_path)
    queue = {"linger_s": 0.0, "poll_s": 0.02, "rescue_margin_s": 0.0}
    config = gateway_config(fake_openai, fake_anthropic, batch=True, queue=queue)
    with LiveGateway(build_pipeline(config, traces, JobStore.open(url))) as gw:
        yield gw, traces
    traces.close()


def wait_for(gw: LiveGateway, job_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = httpx.get(f"{gw.url}/v1/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed"):
            return dict(job)
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not finished in {timeout_s}s")


def test_openai_sdk_gets_a_job_and_then_the_answer(
    gateway: tuple[LiveGateway, SqlTraceStore], fake_openai: FakeOpenAI
) -> None:
    gw, traces = gateway
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "summarize the incident report"}],
        extra_headers={**HINTS, "x-switchtower-tier": "async"},
    )
    assert raw.status_code == 202
    job = raw.http_response.json()
    assert (job["object"], job["status"], job["model"]) == (
        "switchtower.job",
        "queued",
        "fake-batch",
    )
    assert raw.headers["location"] == f"/v1/jobs/{job['id']}" == job["url"]
    assert raw.headers["x-switchtower-tier"] == "async"
    assert raw.headers["x-switchtower-trace-id"] == job["id"]
    done = wait_for(gw, job["id"])
    assert done["status"] == "completed"
    answer = done["response"]
    assert answer["object"] == "chat.completion"
    assert answer["model"] == "fake-batch"
    assert answer["choices"][0]["message"]["content"] == "echo: summarize the incident report"
    assert len(fake_openai.batches) == 1
    trace = traces.get(job["id"])
    assert trace is not None
    assert (trace.status, trace.tier, trace.model) == ("ok", "async", "fake-batch")
    metrics = httpx.get(gw.url + "/metrics").text
    assert 'switchtower_deferred_requests_total{model="fake-batch"} 1.0' in metrics
    assert 'switchtower_jobs{status="completed"} 1.0' in metrics
    assert 'switchtower_jobs{status="queued"} 0.0' in metrics


def test_anthropic_sdk_gets_the_answer_as_a_message(
    gateway: tuple[LiveGateway, SqlTraceStore],
) -> None:
    gw, _ = gateway
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="auto",
        max_tokens=64,
        messages=[{"role": "user", "content": "summarize the changelog"}],
        extra_headers={**HINTS, "x-switchtower-tier": "async"},
    )
    assert raw.status_code == 202
    job = raw.http_response.json()
    done = wait_for(gw, job["id"])
    message = done["response"]
    assert message["type"] == "message"
    assert message["content"][0]["text"] == "echo: summarize the changelog"


def test_without_the_async_hint_a_batch_deadline_still_answers_now(
    gateway: tuple[LiveGateway, SqlTraceStore],
) -> None:
    gw, _ = gateway
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "summarize the notes"}],
        extra_headers={"x-switchtower-deadline": "batch"},
    )
    assert raw.status_code == 200
    assert raw.parse().choices[0].message.content == "echo: summarize the notes"


def test_job_errors_are_clear(gateway: tuple[LiveGateway, SqlTraceStore]) -> None:
    gw, _ = gateway
    missing = httpx.get(gw.url + "/v1/jobs/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "job_not_found"
    body = {"model": "auto", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    streamed = httpx.post(gw.url + "/v1/chat/completions", json=body, headers=HINTS)
    assert streamed.status_code == 400
    assert streamed.json()["error"]["param"] == "stream"
    bad = httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-switchtower-async": "maybe"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "x-switchtower-async"


def test_with_the_job_database_down_nothing_is_accepted(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    traces = open_store(f"sqlite:///{tmp_path / 'st.db'}", spool_dir=tmp_path)
    down = JobStore(sa.create_engine("postgresql+psycopg://st@127.0.0.1:1/none"))
    config = gateway_config(fake_openai, batch=True, queue={"worker": False})
    with LiveGateway(build_pipeline(config, traces, down)) as gw:
        body = {"model": "auto", "messages": [{"role": "user", "content": "summarize it"}]}
        res = httpx.post(
            gw.url + "/v1/chat/completions",
            json=body,
            headers={**HINTS, "x-switchtower-tier": "async"},
        )
    traces.close()
    assert res.status_code == 503
    assert res.headers["retry-after"] == "5"
    assert res.json()["error"]["code"] == "store_unavailable"
    assert not fake_openai.batches


def test_a_key_sees_only_its_own_jobs_and_pays_the_estimate(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'st.db'}"
    traces = open_store(url, spool_dir=tmp_path)
    keys = KeyStore.open(url)
    mine_key, mine = keys.create("mine", daily_budget_usd=1.0)
    _, theirs = keys.create("theirs")
    limiter = MemoryLimiter()
    config = gateway_config(fake_openai, batch=True, queue={"worker": False})
    pipe = build_pipeline(config, traces, JobStore.open(url))
    with LiveGateway(pipe, keys=keys, limiter=limiter) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=mine, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="auto",
            messages=[{"role": "user", "content": "summarize the audit log"}],
            extra_headers={**HINTS, "x-switchtower-tier": "async"},
        )
        assert raw.status_code == 202
        job_id = raw.http_response.json()["id"]
        estimate = float(raw.headers["x-switchtower-cost-usd"])
        assert estimate > 0
        own = httpx.get(f"{gw.url}/v1/jobs/{job_id}", headers={"authorization": f"Bearer {mine}"})
        other = httpx.get(
            f"{gw.url}/v1/jobs/{job_id}", headers={"authorization": f"Bearer {theirs}"}
        )
        anonymous = httpx.get(f"{gw.url}/v1/jobs/{job_id}")
    keys.close()
    traces.close()
    assert own.status_code == 200
    assert own.json()["status"] == "queued"
    assert asyncio.run(limiter.spent(mine_key.id)) == pytest.approx(estimate, rel=1e-6)
    assert other.status_code == 404
    assert anonymous.status_code == 401


def test_the_server_runs_a_worker_only_when_there_is_queue_work(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'st.db'}"

    async def started(batch: bool) -> bool:
        pipe = build_pipeline(gateway_config(fake_openai, batch=batch), None, JobStore.open(url))
        task = _start_queue_worker(pipe, asyncio.Event())
        if task is not None:
            task.cancel()
        await pipe.aclose()
        return task is not None

    assert asyncio.run(started(batch=True))
    assert not asyncio.run(started(batch=False))


def test_naming_a_batch_model_takes_the_async_hint_and_a_deadline_it_can_meet(
    gateway: tuple[LiveGateway, SqlTraceStore],
) -> None:
    """A client that names a batch API must have asked for a job, with time for it:
    otherwise a 400, never a job it did not ask for (that would then fail its deadline)."""
    gw, _ = gateway
    url = f"{gw.url}/v1/chat/completions"
    body = {"model": "fake-batch", "messages": [{"role": "user", "content": "summarize"}]}
    plain = httpx.post(url, json=body)
    assert plain.status_code == 400
    assert plain.json()["error"]["param"] == "model"
    assert "send the async hint" in plain.json()["error"]["message"]
    hurried = httpx.post(url, json=body, headers={"x-switchtower-async": "true"})
    assert hurried.status_code == 400
    assert "longer than the 'interactive' deadline allows" in hurried.json()["error"]["message"]
    taken = httpx.post(url, json=body, headers=HINTS)
    assert taken.status_code == 202
    assert wait_for(gw, taken.json()["id"])["status"] == "completed"
