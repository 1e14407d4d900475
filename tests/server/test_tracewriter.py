"""The gateway's background trace writer: group commit, flush and close cut the linger
short, and nothing accepted is lost on a clean close."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from switchtower.server.tracewriter import BackgroundTraceWriter
from switchtower.types import Trace

from .test_endpoints import _trace


class _Recording:
    """A TraceStore with write_many that records each batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()

    def write(self, trace: Trace) -> None:
        self.write_many([trace])

    def write_many(self, traces: Sequence[Trace]) -> None:
        with self.lock:
            self.batches.append([t.id for t in traces])

    def get(self, trace_id: str) -> Trace | None:
        return None

    def recent(self, limit: int = 20) -> list[Trace]:
        return []

    def record_outcome(self, trace_id: str, outcome: object) -> bool:
        return False


def test_traces_of_one_linger_window_are_one_batch_and_flush_cuts_it_short() -> None:
    store = _Recording()
    # a linger far longer than the test: only flush() can end it
    writer = BackgroundTraceWriter(store, linger_s=600.0)  # type: ignore[arg-type]
    ids = [str(i) for i in range(50)]
    for i in ids:
        writer.write(_trace(i))
    writer.flush()
    assert store.batches == [ids]
    assert writer.written == 50
    assert writer.batches == 1
    assert writer.pending == 0
    writer.close()


def test_close_writes_everything_accepted_without_waiting_out_the_linger() -> None:
    store = _Recording()
    writer = BackgroundTraceWriter(store, linger_s=600.0, max_batch=8)  # type: ignore[arg-type]
    ids = [str(i) for i in range(30)]
    for i in ids:
        writer.write(_trace(i))
    writer.close()
    written = [i for batch in store.batches for i in batch]
    assert written == ids
    assert all(len(b) <= 8 for b in store.batches)
    # the writer restarts on the next trace after a close
    writer.write(_trace("late"))
    writer.close()
    assert store.batches[-1] == ["late"]


def test_without_linger_every_trace_is_still_written() -> None:
    store = _Recording()
    writer = BackgroundTraceWriter(store, linger_s=0.0)  # type: ignore[arg-type]
    for i in range(20):
        writer.write(_trace(str(i)))
    writer.close()
    assert sorted(i for b in store.batches for i in b) == sorted(str(i) for i in range(20))
