"""The trace store schema: typed SQLAlchemy 2 ORM models.

The Alembic migrations in ``migrations/versions`` create exactly these tables; a test
compares the migrated database with this metadata so the two cannot drift apart.
Timestamps are stored as ``TIMESTAMP WITH TIME ZONE`` (UTC) but read and written as
float epoch seconds, the unit :class:`switchtower.types.Trace` uses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["AttemptRow", "Base", "EpochTime", "JSONType", "JobRow", "TraceRow"]

#: JSON on SQLite (text), JSONB on PostgreSQL
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class EpochTime(sa.types.TypeDecorator[float]):
    """A UTC timestamp column that Python code sees as float epoch seconds."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: float | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite returns text for raw SQL, be lenient
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:  # SQLite drops the zone; we only ever write UTC
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())


class Base(DeclarativeBase):
    pass


class TraceRow(Base):
    """One request's record. Outcome columns are filled later by feedback or the nightly loop."""

    __tablename__ = "traces"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    created_at: Mapped[float] = mapped_column(EpochTime, index=True)
    request_digest: Mapped[str] = mapped_column(sa.String(128))
    prompt: Mapped[str | None] = mapped_column(sa.Text)
    operation: Mapped[str] = mapped_column(sa.String(255))
    confidence: Mapped[float] = mapped_column(sa.Double)
    tier: Mapped[str] = mapped_column(sa.String(32))
    model: Mapped[str] = mapped_column(sa.String(255))
    deadline: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(32))
    error_kind: Mapped[str | None] = mapped_column(sa.String(255))
    input_tokens: Mapped[int] = mapped_column(sa.BigInteger)
    output_tokens: Mapped[int] = mapped_column(sa.BigInteger)
    #: of input_tokens, read from / written to the provider's prompt cache
    cache_read_tokens: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    cache_write_tokens: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    #: of cache_write_tokens, written for an hour (Anthropic's dearer writes)
    cache_write_1h_tokens: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    cost_usd: Mapped[float] = mapped_column(sa.Double)
    counterfactual_cost_usd: Mapped[float] = mapped_column(sa.Double)
    latency_ms: Mapped[float] = mapped_column(sa.Double)
    policy_version: Mapped[str] = mapped_column(sa.String(255))
    experiment: Mapped[str | None] = mapped_column(sa.String(255))
    arm: Mapped[str | None] = mapped_column(sa.String(255))
    api_key_id: Mapped[str | None] = mapped_column(sa.String(255))
    signals: Mapped[dict[str, Any]] = mapped_column(JSONType)
    decision: Mapped[dict[str, Any]] = mapped_column(JSONType)
    outcome_success: Mapped[bool | None] = mapped_column(sa.Boolean)
    outcome_score: Mapped[float | None] = mapped_column(sa.Double)
    outcome_comment: Mapped[str | None] = mapped_column(sa.Text)
    outcome_source: Mapped[str | None] = mapped_column(sa.String(64))
    outcome_at: Mapped[float | None] = mapped_column(EpochTime, index=True)

    attempts: Mapped[list[AttemptRow]] = relationship(
        back_populates="trace",
        order_by="AttemptRow.seq",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __table_args__ = (sa.Index("ix_traces_operation_created_at", "operation", "created_at"),)


class AttemptRow(Base):
    """One call to one model within a trace, in order (``seq`` from 0)."""

    __tablename__ = "attempts"

    trace_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("traces.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    model: Mapped[str] = mapped_column(sa.String(255))
    provider: Mapped[str] = mapped_column(sa.String(255))
    tier: Mapped[str] = mapped_column(sa.String(32))
    started_at: Mapped[float] = mapped_column(EpochTime)
    latency_ms: Mapped[float] = mapped_column(sa.Double)
    ok: Mapped[bool] = mapped_column(sa.Boolean)
    error_kind: Mapped[str | None] = mapped_column(sa.String(255))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[int | None] = mapped_column(sa.Integer)
    input_tokens: Mapped[int] = mapped_column(sa.BigInteger)
    output_tokens: Mapped[int] = mapped_column(sa.BigInteger)
    cost_usd: Mapped[float] = mapped_column(sa.Double)

    trace: Mapped[TraceRow] = relationship(back_populates="attempts")


class JobRow(Base):
    """One deferred request (``queue/``): queued, in a provider batch, then finished.

    ``id`` is the request id, which is also its trace's id (the trace is written in the
    same transaction that finishes the job). ``trace`` holds the planned trace (decision,
    signals, reasons) that the answer completes.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    created_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)
    deadline_at: Mapped[float] = mapped_column(EpochTime)
    status: Mapped[str] = mapped_column(sa.String(32))
    model: Mapped[str] = mapped_column(sa.String(255))
    fmt: Mapped[str] = mapped_column(sa.String(32))
    api_key_id: Mapped[str | None] = mapped_column(sa.String(255))
    batch_id: Mapped[str | None] = mapped_column(sa.String(255))
    lease_until: Mapped[float | None] = mapped_column(EpochTime)
    next_poll_at: Mapped[float | None] = mapped_column(EpochTime)
    request: Mapped[dict[str, Any]] = mapped_column(JSONType)
    fallbacks: Mapped[list[str]] = mapped_column(JSONType)
    trace: Mapped[dict[str, Any]] = mapped_column(JSONType)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error_kind: Mapped[str | None] = mapped_column(sa.String(255))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    #: the client's webhook (``queue/webhooks.py``); ``notify_state`` is None without one,
    #: ``pending`` once the job finished, then ``delivered`` or ``gave_up``
    webhook_url: Mapped[str | None] = mapped_column(sa.Text)
    notify_state: Mapped[str | None] = mapped_column(sa.String(16))
    notify_attempts: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    notify_next_at: Mapped[float | None] = mapped_column(EpochTime)
    notify_error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.Index("ix_jobs_status_model_created_at", "status", "model", "created_at"),
        sa.Index("ix_jobs_batch_id", "batch_id"),
        sa.Index("ix_jobs_notify_state_next_at", "notify_state", "notify_next_at"),
    )
