"""Trace writes off the event loop.

The pipeline's :class:`~switchtower.tracing.TraceRecorder` calls ``store.write`` inline;
in the gateway that would put a database commit on every request's path. The gateway
puts a :class:`BackgroundTraceWriter` in front of the store: ``write`` hands the trace
to listeners (metrics, budget charging: on the caller's thread, cheap) and to a queue
(a few microseconds on the event loop). One thread drains the queue in batches, group
commit: after the first trace arrives it lingers ``linger_s`` (default 50 ms) so the
traces of that window are written in one ``write_many`` transaction instead of one
commit each (less CPU and GIL time taken from the event loop; a batch is at most
``max_batch`` traces). ``flush`` and ``close`` cut the linger short and wait for the
queue to drain, so a clean shutdown loses no trace. With a
:class:`~switchtower.server.journal.TraceJournal` each trace is first appended to a
journal segment, so a crash of the process loses none either: the next start moves
unfinished segments into the store's spool. A database outage loses nothing: the store
spools (see :mod:`switchtower.store.safe`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from switchtower.protocols import TraceStore
from switchtower.server.journal import Segment, TraceJournal
from switchtower.types import Outcome, Trace

__all__ = ["BackgroundTraceWriter"]

log = logging.getLogger(__name__)

_STOP = object()
_MAX_BATCH = 256
_LINGER_S = 0.05


class BackgroundTraceWriter:
    """A :class:`TraceStore` that writes through a queue; reads go to the inner store."""

    def __init__(
        self,
        inner: TraceStore | None,
        *,
        listeners: Sequence[Callable[[Trace], None]] = (),
        linger_s: float = _LINGER_S,
        max_batch: int = _MAX_BATCH,
        journal: TraceJournal | None = None,
    ) -> None:
        self.inner = inner
        self.journal = journal
        self.journal_failures = 0
        #: orders journal appends with queue puts, so a rotation marker follows every
        #: trace written to the segment it releases
        self._order = threading.Lock()
        self.listeners = list(listeners)
        self.linger_s = linger_s
        self.max_batch = max_batch
        self.write_failures = 0
        self.written = 0
        self.batches = 0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: set by flush/close: write what is queued now, without lingering
        self._hurry = threading.Event()

    # -- TraceStore -----------------------------------------------------------------------

    def write(self, trace: Trace) -> None:
        for listener in self.listeners:
            try:
                listener(trace)
            except Exception:  # observers never break requests
                log.exception("trace listener failed for trace %s", trace.id)
        if self.inner is None:
            return
        self._ensure_thread()
        if self.journal is None:
            self._queue.put(trace)
            return
        with self._order:
            try:
                self.journal.append(trace)
            except (OSError, ValueError):
                self.journal_failures += 1
                log.exception("trace %s could not be journaled", trace.id)
            self._queue.put(trace)

    def get(self, trace_id: str) -> Trace | None:
        if self.inner is None:
            return None
        self.flush()
        return self.inner.get(trace_id)

    def recent(self, limit: int = 20) -> Sequence[Trace]:
        if self.inner is None:
            return []
        self.flush()
        return self.inner.recent(limit)

    def record_outcome(self, trace_id: str, outcome: Outcome) -> bool:
        if self.inner is None:
            return False
        self.flush()
        return self.inner.record_outcome(trace_id, outcome)

    # -- the writer thread ----------------------------------------------------------------

    @property
    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._drain, name="switchtower-trace-writer", daemon=True
                )
                self._thread.start()

    def _drain(self) -> None:
        stop = False
        while not stop:
            batch: list[Trace] = []
            done: list[Segment] = []
            item = self._queue.get()
            n_items = 1
            if item is _STOP:
                stop = True
            elif isinstance(item, Segment):
                done.append(item)
            else:
                batch.append(item)
                if self.linger_s > 0 and self._queue.qsize() < self.max_batch - 1:
                    # group commit: let the traces of the next few ms join this batch
                    self._hurry.wait(self.linger_s)
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                n_items += 1
                if item is _STOP:
                    stop = True
                elif isinstance(item, Segment):
                    done.append(item)
                else:
                    batch.append(item)
            try:
                if batch:
                    self._write_batch(batch)
                # every trace of these segments is now stored or spooled
                for segment in done:
                    segment.release()
                if not stop:
                    self._maybe_rotate()
            finally:
                for _ in range(n_items):
                    self._queue.task_done()

    def _maybe_rotate(self) -> None:
        if self.journal is not None and self.journal.due():
            with self._order:
                self._queue.put(self.journal.rotate())

    def _write_batch(self, batch: list[Trace]) -> None:
        assert self.inner is not None
        write_many = getattr(self.inner, "write_many", None)
        if write_many is not None and len(batch) > 1:
            try:
                write_many(batch)
            except Exception:
                log.warning("batch of %d traces failed; writing one by one", len(batch))
            else:
                self.written += len(batch)
                self.batches += 1
                return
        for trace in batch:
            try:
                self.inner.write(trace)
            except Exception:
                self.write_failures += 1
                log.exception(
                    "trace %s could not be written (failures so far: %d)",
                    trace.id,
                    self.write_failures,
                )
            else:
                self.written += 1

    def flush(self) -> None:
        """Block until every queued trace has been written (or has failed)."""
        if self._thread is not None:
            self._hurry.set()
            try:
                self._queue.join()
            finally:
                self._hurry.clear()

    def close(self) -> None:
        """Drain the queue and stop the thread. Idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._hurry.set()
        self._queue.put(_STOP)
        thread.join()
        self._thread = None
        self._hurry.clear()
        while True:  # a rotation marker queued behind the stop
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Segment):
                item.release()
            self._queue.task_done()
        if self.journal is not None:
            self.journal.close()  # drained: nothing in it is unwritten
