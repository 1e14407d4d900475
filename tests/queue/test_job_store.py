"""JobStore on SQLite and on the machine's real PostgreSQL: claims, leases, polls and the
one-time finish that stores the trace with the answer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from switchtower.queue import Job, JobStore
from switchtower.queue.jobs import completion_to_json
from switchtower.store import open_store
from switchtower.store.models import JobRow
from switchtower.types import Attempt, Completion, Request, Trace, Usage

T0 = 1_750_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jobs(db_url: str, clock: Clock) -> Iterator[JobStore]:
    store = JobStore.open(db_url)
    store.clock = clock
    yield store
    store.close()


def job(n: int, model: str = "gpt-batch", *, created: float = T0, deadline_s: float = 86400) -> Job:
    req = Request.from_text(f"question {n}", deadline="batch", accept_deferred=True, id=f"j{n}")
    planned = Trace(
        id=req.id,
        created_at=created,
        request_digest=req.digest,
        operation="summarize",
        confidence=0.9,
        tier="async",
        model=model,
        deadline="batch",
        signals={"complexity": 0.2},
        decision={"why": "test"},
        status="queued",
    )
    return Job(
        id=req.id,
        created_at=created,
        updated_at=created,
        deadline_at=created + deadline_s,
        status="queued",
        model=model,
        request=req,
        trace=planned,
        fallbacks=("gpt-rt",),
    )


def test_a_job_round_trips(jobs: JobStore) -> None:
    j = job(1)
    jobs.add(j)
    got = jobs.get("j1")
    assert got is not None
    assert got.request.text == "question 1"
    assert got.request.accept_deferred
    assert got.trace.decision == {"why": "test"}
    assert (got.status, got.fallbacks, got.deadline_at) == ("queued", ("gpt-rt",), T0 + 86400)
    assert jobs.get("nope") is None
    assert jobs.counts() == {"queued": 1}


def test_a_batch_is_due_when_full_or_when_the_oldest_lingered(jobs: JobStore, clock: Clock) -> None:
    for n in range(3):
        jobs.add(job(n))
    jobs.add(job(9, model="claude-batch"))
    assert jobs.claim_due(linger_s=60, max_batch=10, lease_s=300) == []
    full = jobs.claim_due(linger_s=60, max_batch=3, lease_s=300)
    assert [sorted(j.id for j in g) for g in full] == [["j0", "j1", "j2"]]
    assert jobs.counts() == {"submitting": 3, "queued": 1}
    clock.now += 61
    lingered = jobs.claim_due(linger_s=60, max_batch=3, lease_s=300)
    assert [[j.id for j in g] for g in lingered] == [["j9"]]


def test_submitted_jobs_are_polled_when_due(jobs: JobStore, clock: Clock) -> None:
    for n in range(2):
        jobs.add(job(n))
    (group,) = jobs.claim_due(linger_s=0, max_batch=10, lease_s=300)
    jobs.mark_submitted([j.id for j in group], "batch_1", next_poll_at=T0 + 30)
    assert jobs.due_batches() == []
    clock.now += 30
    assert jobs.due_batches() == [("gpt-batch", "batch_1")]
    assert {j.id for j in jobs.batch_jobs("batch_1")} == {"j0", "j1"}
    jobs.next_poll("batch_1", T0 + 90)
    assert jobs.due_batches() == []


def test_a_dead_workers_claims_return_to_the_queue(jobs: JobStore, clock: Clock) -> None:
    jobs.add(job(1))
    jobs.claim_due(linger_s=0, max_batch=10, lease_s=300)
    assert jobs.release_expired() == 0
    clock.now += 301
    assert jobs.release_expired() == 1
    assert jobs.counts() == {"queued": 1}


def test_a_failed_submission_waits_before_it_is_tried_again(jobs: JobStore, clock: Clock) -> None:
    jobs.add(job(1))
    jobs.claim_due(linger_s=0, max_batch=10, lease_s=300)
    jobs.requeue(["j1"], not_before=T0 + 30)
    assert jobs.claim_due(linger_s=0, max_batch=10, lease_s=300) == []
    clock.now += 30
    assert len(jobs.claim_due(linger_s=0, max_batch=10, lease_s=300)) == 1


def test_late_jobs_are_claimed_for_a_rescue(jobs: JobStore, clock: Clock) -> None:
    jobs.add(job(1, deadline_s=1000))
    jobs.add(job(2, deadline_s=86400))
    # within the 1000 s margin, but a job is rescued at most a tenth of its window early
    assert jobs.claim_late(margin_s=1000, lease_s=300) == []
    clock.now += 900
    late = jobs.claim_late(margin_s=1000, lease_s=300)
    assert [j.id for j in late] == ["j1"]
    assert jobs.get("j1").status == "running"  # type: ignore[union-attr]
    assert jobs.claim_late(margin_s=1000, lease_s=300) == []


def test_a_job_finishes_once_with_its_trace(jobs: JobStore, db_url: str) -> None:
    j = job(1)
    jobs.add(j)
    answer = Completion(
        text="hi", model="gpt-batch", tier="async", usage=Usage(5, 2), cost_usd=0.001
    )
    attempt = Attempt("gpt-batch", "openai", "async", T0, 10.0, True, usage=Usage(5, 2))
    trace = replace(j.trace, status="ok", attempts=(attempt,), cost_usd=0.001)
    assert jobs.finish("j1", trace, result=completion_to_json(answer))
    assert not jobs.finish("j1", trace, error_kind="x", error_message="late")
    done = jobs.get("j1")
    assert done is not None
    assert done.status == "completed"
    assert done.completion is not None
    assert (done.completion.text, done.completion.usage) == ("hi", Usage(5, 2))
    traces = open_store(db_url, replay=False)
    try:
        stored = traces.get("j1")
    finally:
        traces.close()
    assert stored is not None
    assert (stored.status, stored.cost_usd, len(stored.attempts)) == ("ok", 0.001, 1)


def test_a_failed_job_keeps_its_reason(jobs: JobStore) -> None:
    j = job(1)
    jobs.add(j)
    trace = replace(j.trace, status="error", error_kind="no_eligible_model")
    assert jobs.finish("j1", trace, error_kind="no_eligible_model", error_message="no fallback")
    failed = jobs.get("j1")
    assert failed is not None
    assert failed.to_json()["error"] == {"kind": "no_eligible_model", "message": "no fallback"}
    assert failed.completion is None


def test_a_stored_job_with_a_bad_request_is_a_clear_error(jobs: JobStore) -> None:
    jobs.add(job(1))
    with jobs.engine.begin() as conn:
        conn.execute(sa.update(JobRow).values(request={"id": "j1", "received_at": T0}))
    with pytest.raises(Exception, match="no list of messages"):
        jobs.get("j1")
