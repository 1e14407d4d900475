"""JobStore: the durable job table, in the database of ``storage.url``.

A job is committed before the client is told it was accepted, and every move between
statuses is one transaction, so a crash or restart loses no accepted job. Claims are safe
across worker processes and gateway replicas: on PostgreSQL rows are claimed with
``FOR UPDATE SKIP LOCKED``; on SQLite every write transaction is ``BEGIN IMMEDIATE``
(one writer at a time). A claim holds a lease; a worker that dies releases its jobs when
the lease runs out (a batch may then be sent twice: delivery is at least once, an
answer is stored once).

Finishing a job writes its trace in the same transaction, and only the first finish
counts: a batch answer and a deadline rescue racing for one job leave one answer and one
trace.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from switchtower.queue.jobs import Job, request_from_json, request_to_json
from switchtower.store.codec import attempt_rows, trace_from_dict, trace_row, trace_to_dict
from switchtower.store.models import AttemptRow, JobRow, TraceRow
from switchtower.store.sql import open_migrated, store_errors
from switchtower.types import Trace

__all__ = ["JobStore"]

_ACTIVE = ("queued", "submitting", "submitted", "running")
#: a job is rescued at most this share of its window before its deadline
LATE_SHARE = 0.1


def _errors(action: str) -> contextlib.AbstractContextManager[None]:
    return store_errors(action, "job store")


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deadline_at=row.deadline_at,
        status=row.status,
        model=row.model,
        request=request_from_json(row.request),
        trace=trace_from_dict(row.trace),
        fallbacks=tuple(row.fallbacks or ()),
        fmt="anthropic" if row.fmt == "anthropic" else "openai",
        api_key_id=row.api_key_id,
        batch_id=row.batch_id,
        result=row.result,
        error_kind=row.error_kind,
        error_message=row.error_message,
        webhook_url=row.webhook_url,
        notify_state=row.notify_state,
        notify_attempts=row.notify_attempts or 0,
        notify_error=row.notify_error,
    )


class JobStore:
    """The ``jobs`` table (created by the trace store's migrations)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self._pg = engine.dialect.name == "postgresql"

    @classmethod
    def open(cls, url: str) -> JobStore:
        """Open (creating and migrating as needed) the job table at ``url``."""
        return cls(open_migrated(url, subject="job store"))

    def close(self) -> None:
        self.engine.dispose()

    def _write(self) -> sa.Connection:
        return self.engine.connect().execution_options(sqlite_begin="IMMEDIATE")

    def _locked(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        return stmt.with_for_update(skip_locked=True) if self._pg else stmt

    # -- add and read -----------------------------------------------------------------

    def add(self, job: Job) -> None:
        """Store a new job, committed on return."""
        row = {
            "id": job.id,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "deadline_at": job.deadline_at,
            "status": job.status,
            "model": job.model,
            "fmt": job.fmt,
            "api_key_id": job.api_key_id,
            "batch_id": job.batch_id,
            "lease_until": None,
            "next_poll_at": None,
            "request": request_to_json(job.request),
            "fallbacks": list(job.fallbacks),
            "trace": trace_to_dict(job.trace),
            "result": dict(job.result) if job.result is not None else None,
            "error_kind": job.error_kind,
            "error_message": job.error_message,
            "webhook_url": job.webhook_url,
            "notify_state": None,
            "notify_attempts": 0,
            "notify_next_at": None,
            "notify_error": None,
        }
        with _errors("store a job"), self._write() as conn, conn.begin():
            conn.execute(sa.insert(JobRow), [row])

    def get(self, job_id: str) -> Job | None:
        with _errors("read a job"), self.engine.connect() as conn:
            row = conn.execute(sa.select(JobRow.__table__).where(JobRow.id == job_id)).first()
        return _job(row) if row is not None else None

    def recent(self, *, status: str | None = None, limit: int = 20) -> list[Job]:
        """The newest jobs first (optionally of one status)."""
        stmt = sa.select(JobRow.__table__).order_by(JobRow.created_at.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(JobRow.status == status)
        with _errors("list jobs"), self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(stmt)]

    def counts(self) -> dict[str, int]:
        """How many jobs are in each status."""
        stmt = sa.select(JobRow.status, sa.func.count()).group_by(JobRow.status)
        with _errors("count jobs"), self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(stmt)}

    # -- claims -----------------------------------------------------------------------

    def release_expired(self) -> int:
        """Jobs whose claim lease ran out (their worker died) go back to ``queued``;
        a submitted job keeps its batch."""
        now = self.clock()
        stmt = (
            sa.update(JobRow)
            .where(JobRow.status.in_(("submitting", "running")), JobRow.lease_until < now)
            .values(status="queued", lease_until=None, next_poll_at=None, updated_at=now)
        )
        with _errors("release expired claims"), self._write() as conn, conn.begin():
            return int(conn.execute(stmt).rowcount or 0)

    def claim_due(
        self,
        *,
        linger_s: float,
        max_batch: int,
        lease_s: float,
        models: Collection[str] | None = None,
    ) -> list[list[Job]]:
        """Claim the queued jobs of every model (of ``models``, when given: the batch
        entries) whose batch is due: ``max_batch`` jobs waiting, or the oldest waited
        ``linger_s``. One list of jobs per batch."""
        now = self.clock()
        ready = sa.or_(JobRow.next_poll_at.is_(None), JobRow.next_poll_at <= now)
        groups = (
            sa.select(JobRow.model, sa.func.min(JobRow.created_at), sa.func.count())
            .where(JobRow.status == "queued", ready)
            .group_by(JobRow.model)
        )
        if models is not None:
            if not models:
                return []
            groups = groups.where(JobRow.model.in_(list(models)))
        out: list[list[Job]] = []
        with _errors("claim jobs"), self._write() as conn, conn.begin():
            for model, oldest, n in conn.execute(groups).all():
                if n < max_batch and float(oldest) > now - linger_s:
                    continue
                pick = self._locked(
                    sa.select(JobRow.__table__)
                    .where(JobRow.status == "queued", JobRow.model == model, ready)
                    .order_by(JobRow.created_at)
                    .limit(max_batch)
                )
                rows = conn.execute(pick).all()
                if not rows:
                    continue
                conn.execute(
                    sa.update(JobRow)
                    .where(JobRow.id.in_([r.id for r in rows]))
                    .values(status="submitting", lease_until=now + lease_s, updated_at=now)
                )
                out.append([_job(r) for r in rows])
        return out

    def mark_submitted(self, ids: Sequence[str], batch_id: str, *, next_poll_at: float) -> None:
        now = self.clock()
        stmt = (
            sa.update(JobRow)
            .where(JobRow.id.in_(list(ids)), JobRow.status == "submitting")
            .values(
                status="submitted",
                batch_id=batch_id,
                lease_until=None,
                next_poll_at=next_poll_at,
                updated_at=now,
            )
        )
        with _errors("mark jobs submitted"), self._write() as conn, conn.begin():
            conn.execute(stmt)

    def requeue(self, ids: Sequence[str], *, not_before: float) -> None:
        """A submission failed: queue the jobs again, not to be tried before ``not_before``."""
        stmt = (
            sa.update(JobRow)
            .where(JobRow.id.in_(list(ids)), JobRow.status == "submitting")
            .values(status="queued", lease_until=None, next_poll_at=not_before)
        )
        with _errors("requeue jobs"), self._write() as conn, conn.begin():
            conn.execute(stmt)

    def due_batches(self, *, limit: int = 100) -> list[tuple[str, str]]:
        """``(model, batch_id)`` of submitted batches whose next poll is due."""
        now = self.clock()
        stmt = (
            sa.select(JobRow.model, JobRow.batch_id)
            .where(JobRow.status == "submitted", JobRow.next_poll_at <= now)
            .group_by(JobRow.model, JobRow.batch_id)
            .limit(limit)
        )
        with _errors("find due batches"), self.engine.connect() as conn:
            return [(str(m), str(b)) for m, b in conn.execute(stmt) if b is not None]

    def batch_jobs(self, batch_id: str) -> list[Job]:
        """The jobs of one batch still waiting for it."""
        stmt = sa.select(JobRow.__table__).where(
            JobRow.batch_id == batch_id, JobRow.status == "submitted"
        )
        with _errors("read a batch"), self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(stmt)]

    def next_poll(self, batch_id: str, at: float) -> None:
        stmt = (
            sa.update(JobRow)
            .where(JobRow.batch_id == batch_id, JobRow.status == "submitted")
            .values(next_poll_at=at)
        )
        with _errors("schedule a poll"), self._write() as conn, conn.begin():
            conn.execute(stmt)

    def claim_late(self, *, margin_s: float, lease_s: float, limit: int = 100) -> list[Job]:
        """Claim waiting jobs whose deadline is near: a worker answers them from their
        fallbacks now (status ``running``). Near is within ``margin_s``, or within a tenth
        of the job's own window when that is shorter (a job given five minutes is not
        rescued the moment it is stored)."""
        now = self.clock()
        pick = self._locked(
            sa.select(JobRow.__table__)
            .where(
                JobRow.status.in_(("queued", "submitted")),
                JobRow.deadline_at <= now + margin_s,
            )
            .order_by(JobRow.deadline_at)
            .limit(limit)
        )

        def late(row: Any) -> bool:
            window = row.deadline_at - row.created_at
            return bool(row.deadline_at <= now + min(margin_s, LATE_SHARE * window))

        return self._claim_running(pick, now, lease_s, keep=late)

    def batch_active(self, batch_id: str) -> int:
        """Jobs of the batch ``batch_id`` not finished yet."""
        stmt = sa.select(sa.func.count()).where(
            JobRow.batch_id == batch_id, JobRow.status.in_(_ACTIVE)
        )
        with _errors("count a batch's jobs"), self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def claim_queued(self, model: str, *, limit: int, lease_s: float) -> list[Job]:
        """Claim up to ``limit`` queued jobs of ``model`` (queued work, answered inline by
        a worker: status ``running``), the nearest deadline first."""
        if limit <= 0:
            return []
        now = self.clock()
        pick = self._locked(
            sa.select(JobRow.__table__)
            .where(JobRow.status == "queued", JobRow.model == model)
            .order_by(JobRow.deadline_at, JobRow.created_at)
            .limit(limit)
        )
        return self._claim_running(pick, now, lease_s)

    def claim_running(self, ids: Sequence[str], *, lease_s: float) -> list[Job]:
        """Claim these submitted jobs to answer them from their fallbacks (their batch
        gave no answer)."""
        now = self.clock()
        pick = self._locked(
            sa.select(JobRow.__table__).where(
                JobRow.id.in_(list(ids)), JobRow.status == "submitted"
            )
        )
        return self._claim_running(pick, now, lease_s)

    def _claim_running(
        self,
        pick: sa.Select[Any],
        now: float,
        lease_s: float,
        *,
        keep: Callable[[Any], bool] = lambda _row: True,
    ) -> list[Job]:
        with _errors("claim jobs"), self._write() as conn, conn.begin():
            rows = [r for r in conn.execute(pick).all() if keep(r)]
            if rows:
                conn.execute(
                    sa.update(JobRow)
                    .where(JobRow.id.in_([r.id for r in rows]))
                    .values(status="running", lease_until=now + lease_s, updated_at=now)
                )
        return [_job(r) for r in rows]

    # -- finish -----------------------------------------------------------------------

    def finish(
        self,
        job_id: str,
        trace: Trace,
        *,
        result: Mapping[str, Any] | None = None,
        error_kind: str | None = None,
        error_message: str | None = None,
    ) -> bool:
        """Complete (with ``result``) or fail a job and store its trace, in one
        transaction. False when the job was already finished (nothing is written)."""
        now = self.clock()
        stmt = (
            sa.update(JobRow)
            .where(JobRow.id == job_id, JobRow.status.in_(_ACTIVE))
            .values(
                status="completed" if result is not None else "failed",
                result=dict(result) if result is not None else None,
                error_kind=error_kind,
                error_message=error_message,
                lease_until=None,
                next_poll_at=None,
                updated_at=now,
                # the webhook's event is due in the same commit: a crash cannot lose it
                notify_state=sa.case((JobRow.webhook_url.is_not(None), "pending"), else_=None),
                notify_next_at=now,
            )
        )
        with _errors("finish a job"), self._write() as conn, conn.begin():
            if not conn.execute(stmt).rowcount:
                return False
            conn.execute(sa.insert(TraceRow), [trace_row(trace)])
            attempts = attempt_rows(trace)
            if attempts:
                conn.execute(sa.insert(AttemptRow), attempts)
        return True

    # -- webhooks -----------------------------------------------------------------------

    def claim_notifications(self, *, limit: int, lease_s: float) -> list[Job]:
        """Claim finished jobs whose webhook event is due: their next attempt moves
        ``lease_s`` ahead, so another worker does not send it meanwhile (a worker that
        dies mid-delivery leaves it to be sent again then: delivery is at least once)."""
        now = self.clock()
        pick = self._locked(
            sa.select(JobRow.__table__)
            .where(JobRow.notify_state == "pending", JobRow.notify_next_at <= now)
            .order_by(JobRow.notify_next_at)
            .limit(limit)
        )
        with _errors("claim webhook events"), self._write() as conn, conn.begin():
            rows = conn.execute(pick).all()
            if rows:
                conn.execute(
                    sa.update(JobRow)
                    .where(JobRow.id.in_([r.id for r in rows]))
                    .values(notify_next_at=now + lease_s)
                )
        return [_job(r) for r in rows]

    def notified(
        self, job_id: str, *, error: str | None = None, retry_at: float | None = None
    ) -> None:
        """Record one delivery attempt: delivered (no ``error``), to be tried again at
        ``retry_at``, or given up (an ``error`` and no ``retry_at``)."""
        state = "delivered" if error is None else "pending" if retry_at is not None else "gave_up"
        stmt = (
            sa.update(JobRow)
            .where(JobRow.id == job_id, JobRow.notify_state == "pending")
            .values(
                notify_state=state,
                notify_attempts=JobRow.notify_attempts + 1,
                notify_next_at=retry_at,
                notify_error=error,
            )
        )
        with _errors("record a webhook delivery"), self._write() as conn, conn.begin():
            conn.execute(stmt)
