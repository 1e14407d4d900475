"""SafeTraceWriter: a trace store whose writes never fail a request.

:class:`~switchtower.store.sql.SqlTraceStore` already keeps every trace it could not
store (an outage spools it for replay, bad input goes to the rejected file) and then
raises TraceStoreError. This wrapper adds what a gateway needs on top:

- ``write`` never raises; failures are counted (``stats()``) and logged;
- the database may be down at start-up: the writer spools traces itself and retries
  opening at most every ``reopen_interval_s``; once open, the store replays the spool.

Reads (``get``, ``recent``...) raise TraceStoreError while there is no store;
``success_counts`` returns no history then, so routing carries on without it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from switchtower.errors import TraceStoreError
from switchtower.store.spool import Spool, default_spool_path
from switchtower.store.sql import SqlTraceStore, open_store
from switchtower.types import Outcome, Trace

__all__ = ["SafeTraceWriter"]

log = logging.getLogger(__name__)

Counts = Mapping[str, tuple[float, float]]
_EMPTY: Counts = MappingProxyType({})


class SafeTraceWriter:
    """A TraceStore and HistorySource whose ``write`` never raises.

    ``stats()`` gives the counters for metrics: ``written`` traces stored directly,
    ``failures`` writes that did not reach the database, ``spooled`` traces kept in
    the spool, ``rejected`` traces refused as bad input (kept in the rejected file),
    ``dropped`` traces neither stored nor spooled (the disk refused too), ``replayed``
    spooled traces stored later.
    """

    def __init__(
        self,
        store: SqlTraceStore | None,
        *,
        spool: Spool | None = None,
        opener: Callable[[], SqlTraceStore] | None = None,
        reopen_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if store is None and opener is None:
            raise TraceStoreError("SafeTraceWriter needs a store or a way to open one")
        self._store = store
        self.spool = spool if spool is not None else (store.spool if store else None)
        self._opener = opener
        self._reopen_interval_s = reopen_interval_s
        self._clock = clock
        self._next_open = -float("inf")
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self.written = 0
        self.failures = 0
        self.spooled = 0
        self.dropped = 0

    @classmethod
    def open(
        cls,
        url: str,
        *,
        spool_dir: str | os.PathLike[str] | None = None,
        **store_options: Any,
    ) -> SafeTraceWriter:
        """Open ``url`` like :func:`open_store`, but start (and spool) even if it is down."""
        spool = Spool(default_spool_path(url, spool_dir))

        def opener() -> SqlTraceStore:
            return open_store(url, spool_dir=spool_dir, **store_options)

        writer = cls(None, spool=spool, opener=opener)
        writer.store_or_none()
        return writer

    # -- the store, opened lazily ------------------------------------------------------

    def store_or_none(self) -> SqlTraceStore | None:
        """The underlying store, trying to (re)open it if it is not open yet."""
        if self._store is not None or self._opener is None:
            return self._store
        with self._open_lock:
            if self._store is None and self._clock() >= self._next_open:
                try:
                    self._store = self._opener()
                    log.info("trace store %s is open", self._store.url)
                except TraceStoreError as exc:
                    self._next_open = self._clock() + self._reopen_interval_s
                    log.warning("trace store unavailable, spooling traces: %s", exc)
        return self._store

    @property
    def store(self) -> SqlTraceStore:
        store = self.store_or_none()
        if store is None:
            raise TraceStoreError("the trace store is not available")
        return store

    # -- writes ----------------------------------------------------------------------

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def write(self, trace: Trace) -> None:
        """Store the trace, or spool it; never raises."""
        store = self.store_or_none()
        try:
            if store is None:
                raise TraceStoreError("the trace store is not available")
            store.write(trace)  # spools or rejects by itself on failure
        except Exception as exc:  # an observer never breaks a request
            self._count("failures")
            if store is None:
                self._spool(trace, exc)
            else:
                log.warning("trace %s not stored: %s", trace.id, exc)
            return
        self._count("written")

    def _spool(self, trace: Trace, exc: BaseException) -> None:
        try:
            if self.spool is None:
                raise OSError("no spool configured")
            self.spool.append(trace)
        except (OSError, ValueError) as spool_exc:
            self._count("dropped")
            log.error("trace %s lost: %s; spool failed too: %s", trace.id, exc, spool_exc)
            return
        self._count("spooled")
        log.warning("trace %s spooled, store unavailable: %s", trace.id, exc)

    def write_many(self, traces: Sequence[Trace]) -> None:
        """Store traces in one transaction (the gateway's background writer batches);
        never raises. If the batch fails (an outage, or one bad trace) each trace is
        written on its own, so it is stored, spooled or rejected by itself."""
        store = self.store_or_none()
        if store is None or len(traces) <= 1:
            for trace in traces:
                self.write(trace)
            return
        try:
            store.write_many(traces)
        except Exception as exc:
            log.info("batch of %d traces failed (%s); writing one by one", len(traces), exc)
            for trace in traces:
                self.write(trace)
            return
        self._count("written", len(traces))
        store.replay_if_due()

    def replay(self) -> int:
        """Replay the spool into the store now; returns how many were stored. Never raises."""
        store = self.store_or_none()
        if store is None:
            return 0
        try:
            return store.replay_spool().stored
        except Exception as exc:
            log.warning("could not replay the trace spool: %s", exc)
            return 0

    def stats(self) -> dict[str, int]:
        """Counters for metrics, including the open store's own spool counters."""
        store = self._store
        with self._lock:
            return {
                "written": self.written,
                "failures": self.failures,
                "spooled": self.spooled + (store.spooled if store else 0),
                "rejected": store.rejected if store else 0,
                "dropped": self.dropped,
                "replayed": store.replayed if store else 0,
            }

    # -- reads and outcomes: delegate ------------------------------------------------

    def get(self, trace_id: str) -> Trace | None:
        return self.store.get(trace_id)

    def lookup(self, id_or_prefix: str) -> Trace | None:
        return self.store.lookup(id_or_prefix)

    def recent(self, limit: int = 20, **filters: Any) -> list[Trace]:
        return self.store.recent(limit, **filters)

    def iter_traces(
        self,
        since: float | None = None,
        until: float | None = None,
        *,
        with_attempts: bool = True,
        **kw: Any,
    ) -> Iterator[Trace]:
        return self.store.iter_traces(since, until, with_attempts=with_attempts, **kw)

    def record_outcome(self, trace_id: str, outcome: Outcome) -> bool:
        return self.store.record_outcome(trace_id, outcome)

    def success_counts(self, operation: str) -> tuple[Counts, Counts]:
        store = self.store_or_none()
        if store is None:
            return _EMPTY, _EMPTY
        return store.success_counts(operation)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
