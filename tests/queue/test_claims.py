"""Two workers on one database (as two gateway replicas) never send a job twice: on
SQLite and on the machine's PostgreSQL, ticking concurrently."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from fakes.openai_upstream import FakeOpenAI
from server.harness import build_pipeline, gateway_config
from switchtower.queue import JobStore, QueueWorker
from switchtower.store import open_store
from switchtower.types import Request


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'st.db'}"
    return str(request.getfixturevalue("pg_url"))


async def test_concurrent_workers_send_each_job_once(
    fake_openai: FakeOpenAI, db_url: str, tmp_path: Path
) -> None:
    traces = open_store(db_url, spool_dir=tmp_path)
    queue = {"linger_s": 0.0, "poll_s": 0.01, "max_batch": 7, "rescue_margin_s": 0.0}
    config = gateway_config(fake_openai, batch=True, queue=queue)
    pipe = build_pipeline(config, traces, JobStore.open(db_url))
    assert pipe.jobs is not None
    ids = []
    for i in range(60):
        request = Request.from_text(
            f"summarize part {i}", deadline="batch", pinned_tier="async", accept_deferred=True
        )
        ids.append(pipe.submit(pipe.plan(request)).id)
    other = JobStore.open(db_url)  # a second replica: its own engine and connections
    workers = [QueueWorker(pipe, pipe.jobs), QueueWorker(pipe, other)]
    for _ in range(40):
        await asyncio.gather(*(w.tick() for w in workers))
        if all(j.done for j in pipe.jobs.recent(limit=100)):
            break
        await asyncio.sleep(0.02)
    sent = Counter(line["custom_id"] for b in fake_openai.batches.values() for line in b.lines)
    assert sorted(sent) == sorted(ids)
    assert set(sent.values()) == {1}  # no job in two batches
    assert all(len(b.lines) <= 7 for b in fake_openai.batches.values())
    assert pipe.jobs.counts() == {"completed": 60}
    assert sum(1 for _ in traces.iter_traces()) == 60
    other.close()
    await pipe.aclose()
    traces.close()
