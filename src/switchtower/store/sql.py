"""SqlTraceStore: the trace store on SQLAlchemy 2 (SQLite by default, PostgreSQL by URL).

Every write is one transaction holding the trace and all its attempts, committed before
``write`` returns: a trace is either fully stored or not at all, and a committed trace
survives a crash or restart. Database errors leave this module as
:class:`~switchtower.errors.TraceStoreError`. :class:`~switchtower.store.safe.SafeTraceWriter`
wraps a store so a failed write never fails a request.

The store is thread-safe (one engine and pool per store), so the gateway may call it
through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload, sessionmaker

from switchtower.errors import TraceStoreError
from switchtower.store import migrate
from switchtower.store.codec import attempt_rows, trace_from_row, trace_row
from switchtower.store.models import AttemptRow, EpochTime, TraceRow
from switchtower.store.spool import ReplayResult, Spool, default_spool_path
from switchtower.types import Outcome, Trace

__all__ = [
    "SqlTraceStore",
    "default_spool_path",
    "is_transient",
    "open_migrated",
    "open_store",
    "store_errors",
]

log = logging.getLogger(__name__)

Counts = Mapping[str, tuple[float, float]]
_EMPTY: Counts = MappingProxyType({})


def is_transient(exc: BaseException) -> bool:
    """True when a store error looks like an outage (retry later), not bad input."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
        if isinstance(cur, sa_exc.DisconnectionError | sa_exc.TimeoutError | OSError):
            return True
        if isinstance(cur, sa_exc.DBAPIError) and cur.connection_invalidated:
            return True
        cur = cur.__cause__ or cur.__context__
    return False


@contextlib.contextmanager
def store_errors(action: str, subject: str = "trace store") -> Iterator[None]:
    """Database errors (and unusable values) inside leave as TraceStoreError."""
    try:
        yield
    except TraceStoreError:
        raise
    except (sa_exc.SQLAlchemyError, OverflowError, ValueError, TypeError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TraceStoreError(f"{subject} could not {action}: {detail}") from exc


def open_migrated(url: str, *, busy_timeout_ms: int = 5000, subject: str = "trace store") -> Engine:
    """An engine for ``url`` with the schema migrated to head (disposed on failure)."""
    with store_errors(f"open {url.rsplit('@', maxsplit=1)[-1]}", subject):
        engine = migrate.create_engine(migrate.normalize_url(url), busy_timeout_ms=busy_timeout_ms)
    try:
        with store_errors("migrate the schema", subject):
            migrate.upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


@dataclass
class _History:
    """Success counts for every operation, loaded in one grouped query."""

    by_op: dict[str, tuple[Counts, Counts]] = field(default_factory=dict)
    loaded_at: float = -math.inf


class SqlTraceStore:
    """Implements ``protocols.TraceStore`` and ``protocols.HistorySource``.

    Counters for metrics: ``write_errors`` (writes that raised), ``spooled`` (kept in
    the spool during an outage), ``rejected`` (refused as bad input, kept in the
    rejected file), ``replayed`` (spooled traces stored later).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        spool: Spool | None = None,
        history_ttl_s: float = 30.0,
        history_window_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.spool = spool
        self.history_ttl_s = history_ttl_s
        self.history_window_s = history_window_s
        self._clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._history: _History | None = None
        self._history_lock = threading.Lock()
        self._refreshing = False
        self._counter_lock = threading.Lock()
        self._replaying = False
        self._replay_due = spool is not None and spool.pending()
        #: counters for metrics: failed writes, and where those traces went
        self.write_errors = 0
        self.spooled = 0
        self.rejected = 0
        self.replayed = 0

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"SqlTraceStore({self.url!r})"

    # -- writes ---------------------------------------------------------------------

    def _begin_write(self) -> sa.Connection:
        return self.engine.connect().execution_options(sqlite_begin="IMMEDIATE")

    def write(self, trace: Trace) -> None:
        """Store one trace and its attempts in one transaction, committed on return.

        On failure the trace is not lost: an outage spools it (replayed later, see
        :mod:`switchtower.store.spool`), bad input goes to the rejected file; either
        way TraceStoreError is raised so the caller can count and log the failure.
        """
        try:
            self.write_many([trace])
        except TraceStoreError as exc:
            self._keep(trace, exc)
            raise
        self.replay_if_due()

    def replay_if_due(self) -> None:
        """After a successful write: replay spooled traces in the background if any wait."""
        if self._replay_due:
            self._replay_in_background()

    def _keep(self, trace: Trace, exc: TraceStoreError) -> None:
        """Spool a trace the database could not take, or reject it as bad input."""
        with self._counter_lock:
            self.write_errors += 1
        if self.spool is None:
            log.error("trace %s lost (in-memory store has no spool): %s", trace.id, exc)
            return
        transient = is_transient(exc)
        try:
            if transient:
                self.spool.append(trace)
            else:
                self.spool.reject(trace, str(exc))
        except (OSError, ValueError) as spool_exc:
            log.error("trace %s lost: %s; spool failed too: %s", trace.id, exc, spool_exc)
            return
        with self._counter_lock:
            if transient:
                self.spooled += 1
                self._replay_due = True
            else:
                self.rejected += 1
        where = self.spool.path if transient else self.spool.rejected_path
        exc.add_note(f"trace {trace.id} kept in {where}")

    def _replay_in_background(self) -> None:
        with self._counter_lock:
            if self._replaying:
                return
            self._replaying = True

        def run() -> None:
            try:
                self.replay_spool()
            except Exception:
                log.exception("trace spool replay failed")
            finally:
                with self._counter_lock:
                    self._replaying = False

        threading.Thread(target=run, name="switchtower-spool-replay", daemon=True).start()

    def write_many(self, traces: Sequence[Trace], *, skip_existing: bool = False) -> int:
        """Store traces in one transaction; returns how many were inserted.

        With ``skip_existing`` ids already stored are skipped (spool replay is
        idempotent); otherwise a duplicate id fails the whole batch.
        """
        if not traces:
            return 0
        with store_errors("write traces"):
            rows = [trace_row(t) for t in traces]
            with self._begin_write() as conn, conn.begin():
                if skip_existing:
                    ids = [r["id"] for r in rows]
                    have = set(conn.scalars(sa.select(TraceRow.id).where(TraceRow.id.in_(ids))))
                    keep = [i for i, r in enumerate(rows) if r["id"] not in have]
                    rows = [rows[i] for i in keep]
                    traces = [traces[i] for i in keep]
                if not rows:
                    return 0
                conn.execute(sa.insert(TraceRow), rows)
                attempts = [a for t in traces for a in attempt_rows(t)]
                if attempts:
                    conn.execute(sa.insert(AttemptRow), attempts)
            return len(rows)

    def record_outcome(self, trace_id: str, outcome: Outcome) -> bool:
        """Attach feedback to a stored trace; False when no trace has that id."""
        with store_errors("record an outcome"), self._begin_write() as conn, conn.begin():
            result = conn.execute(
                sa.update(TraceRow)
                .where(TraceRow.id == trace_id)
                .values(
                    outcome_success=outcome.success,
                    outcome_score=outcome.score,
                    outcome_comment=outcome.comment,
                    outcome_source=outcome.source,
                    outcome_at=time.time(),
                )
            )
            found = bool(result.rowcount)
        if found:
            with self._history_lock:
                if self._history is not None:
                    self._history.loaded_at = -math.inf  # refresh on next read
        return found

    def replay_spool(self) -> ReplayResult:
        """Move spooled traces (written while the database was unreachable) into it."""
        if self.spool is None:
            return ReplayResult()
        result = self.spool.replay(
            lambda batch: self.write_many(batch, skip_existing=True), is_transient
        )
        with self._counter_lock:
            self.replayed += result.stored
            self.rejected += result.rejected
            self._replay_due = result.pending > 0
        if result.stored or result.rejected:
            log.info(
                "trace spool %s: %d replayed, %d rejected, %d still pending",
                self.spool.path,
                result.stored,
                result.rejected,
                result.pending,
            )
        return result

    # -- reads ----------------------------------------------------------------------

    def _session(self) -> Session:
        return self._sessions()

    def get(self, trace_id: str) -> Trace | None:
        with store_errors("read a trace"), self._session() as s:
            row = s.get(TraceRow, trace_id, options=[selectinload(TraceRow.attempts)])
            return trace_from_row(row) if row is not None else None

    def lookup(self, id_or_prefix: str) -> Trace | None:
        """The trace with this id, else the only trace whose id starts with it (4+ chars)."""
        found = self.get(id_or_prefix)
        if found is not None or len(id_or_prefix) < 4:
            return found
        escaped = id_or_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with store_errors("read a trace"), self._session() as s:
            ids = s.scalars(
                sa.select(TraceRow.id).where(TraceRow.id.like(escaped + "%", escape="\\")).limit(2)
            ).all()
        if len(ids) > 1:
            raise TraceStoreError(f"trace id prefix {id_or_prefix!r} is ambiguous")
        return self.get(ids[0]) if ids else None

    def recent(
        self,
        limit: int = 20,
        *,
        operation: str | None = None,
        tier: str | None = None,
        status: str | None = None,
        model: str | None = None,
        since: float | None = None,
    ) -> list[Trace]:
        """The newest traces first, optionally filtered."""
        q = sa.select(TraceRow).options(selectinload(TraceRow.attempts))
        for col, value in (
            (TraceRow.operation, operation),
            (TraceRow.tier, tier),
            (TraceRow.status, status),
            (TraceRow.model, model),
        ):
            if value is not None:
                q = q.where(col == value)
        if since is not None:
            q = q.where(TraceRow.created_at >= since)
        q = q.order_by(TraceRow.created_at.desc(), TraceRow.id.desc()).limit(max(0, limit))
        with store_errors("read traces"), self._session() as s:
            return [trace_from_row(r) for r in s.scalars(q)]

    def iter_traces(
        self,
        since: float | None = None,
        until: float | None = None,
        *,
        operation: str | None = None,
        with_attempts: bool = True,
        batch_size: int = 500,
    ) -> Iterator[Trace]:
        """Traces with ``since <= created_at < until``, oldest first, in pages.

        Pages are keyed on (created_at, id), so memory stays flat however many traces
        there are, and no cursor stays open between pages.
        """
        traces, attempts = TraceRow.__table__, AttemptRow.__table__
        last: tuple[float, str] | None = None
        while True:
            q = sa.select(traces)  # Core rows: several times faster than ORM objects
            if since is not None:
                q = q.where(traces.c.created_at >= since)
            if until is not None:
                q = q.where(traces.c.created_at < until)
            if operation is not None:
                q = q.where(traces.c.operation == operation)
            if last is not None:
                after = sa.tuple_(
                    sa.literal(last[0], EpochTime()), sa.literal(last[1], sa.String())
                )
                q = q.where(sa.tuple_(traces.c.created_at, traces.c.id) > after)
            q = q.order_by(traces.c.created_at, traces.c.id).limit(batch_size)
            with store_errors("read traces"), self.engine.connect() as conn:
                rows = conn.execute(q).all()
                by_trace: dict[str, list[Any]] = {r.id: [] for r in rows}
                if with_attempts and rows:
                    aq = sa.select(attempts).where(attempts.c.trace_id.in_(list(by_trace)))
                    for a in conn.execute(aq.order_by(attempts.c.trace_id, attempts.c.seq)):
                        by_trace[a.trace_id].append(a)
            yield from (trace_from_row(r, by_trace[r.id]) for r in rows)
            if len(rows) < batch_size:
                return
            last = (rows[-1].created_at, rows[-1].id)

    def count(self) -> int:
        with store_errors("count traces"), self._session() as s:
            return int(s.scalar(sa.select(sa.func.count()).select_from(TraceRow)) or 0)

    # -- history (request path) -----------------------------------------------------

    def success_counts(self, operation: str) -> tuple[Counts, Counts]:
        """tier -> (successes, trials) and model -> (successes, trials) for an operation.

        Served from an in-memory snapshot of all operations; a stale snapshot is
        refreshed in a background thread, so the request path never waits on a query
        (only the very first call loads synchronously). A failed load yields no history.
        """
        with self._history_lock:
            snap = self._history
            stale = snap is None or self._clock() - snap.loaded_at > self.history_ttl_s
            start_bg = stale and snap is not None and not self._refreshing
            if start_bg:
                self._refreshing = True
        if snap is None:
            snap = self.refresh_history()
        elif start_bg:
            threading.Thread(
                target=self._refresh_bg, name="switchtower-history", daemon=True
            ).start()
        return snap.by_op.get(operation, (_EMPTY, _EMPTY))

    def _refresh_bg(self) -> None:
        try:
            self.refresh_history()
        finally:
            with self._history_lock:
                self._refreshing = False

    def refresh_history(self) -> _History:
        """Reload the success-count snapshot now (one grouped query)."""
        snap = _History(loaded_at=self._clock())
        try:
            snap.by_op = self._load_counts()
        except TraceStoreError as exc:
            log.warning("trace history unavailable, routing without it: %s", exc)
            with self._history_lock:
                if self._history is not None:  # keep serving the last good snapshot
                    self._history.loaded_at = snap.loaded_at
                    return self._history
        with self._history_lock:
            self._history = snap
        return snap

    def _load_counts(self) -> dict[str, tuple[Counts, Counts]]:
        score = sa.case(
            (TraceRow.outcome_score < 0, 0.0),
            (TraceRow.outcome_score > 1, 1.0),
            else_=TraceRow.outcome_score,
        )
        success = sa.case(
            (TraceRow.outcome_success.is_(True), 1.0),
            (TraceRow.outcome_success.is_(False), 0.0),
            else_=score,
        )
        q = (
            sa.select(
                TraceRow.operation,
                TraceRow.tier,
                TraceRow.model,
                sa.func.sum(success),
                sa.func.count(),
            )
            .where(TraceRow.outcome_at.is_not(None))
            .where(
                sa.or_(TraceRow.outcome_success.is_not(None), TraceRow.outcome_score.is_not(None))
            )
            .group_by(TraceRow.operation, TraceRow.tier, TraceRow.model)
        )
        if self.history_window_s is not None:
            q = q.where(TraceRow.created_at >= time.time() - self.history_window_s)
        tiers: dict[str, dict[str, list[float]]] = {}
        models: dict[str, dict[str, list[float]]] = {}
        with store_errors("read history"), self._session() as s:
            for op, tier, model, succ, n in s.execute(q):
                for acc, key in ((tiers, tier), (models, model)):
                    cell = acc.setdefault(op, {}).setdefault(key, [0.0, 0.0])
                    cell[0] += float(succ or 0.0)
                    cell[1] += float(n)
        out: dict[str, tuple[Counts, Counts]] = {}
        for op, by_tier in tiers.items():
            t = MappingProxyType({k: (v[0], v[1]) for k, v in by_tier.items()})
            m = MappingProxyType({k: (v[0], v[1]) for k, v in models[op].items()})
            out[op] = (t, m)
        return out

    def close(self) -> None:
        self.engine.dispose()


def open_store(
    url: str,
    *,
    spool_dir: str | os.PathLike[str] | None = None,
    replay: bool = True,
    history_ttl_s: float = 30.0,
    history_window_s: float | None = None,
    busy_timeout_ms: int = 5000,
) -> SqlTraceStore:
    """Open (creating and migrating as needed) the trace store at ``url``.

    ``sqlite:///path.db`` (default), ``postgresql://...`` or ``postgresql+psycopg://...``.
    Spooled traces from an earlier outage or crash are replayed unless ``replay`` is
    False. Raises TraceStoreError when the database cannot be reached or migrated.
    """
    engine = open_migrated(url, busy_timeout_ms=busy_timeout_ms)
    parsed = migrate.normalize_url(url)
    spool = None if migrate.is_memory(parsed) else Spool(default_spool_path(parsed, spool_dir))
    store = SqlTraceStore(
        engine, spool=spool, history_ttl_s=history_ttl_s, history_window_s=history_window_s
    )
    if replay and spool is not None and spool.pending():
        try:
            store.replay_spool()
        except OSError as exc:
            log.warning("could not replay trace spool %s: %s", spool.path, exc)
    return store
