"""A write-ahead journal for the gateway's traces: a crash loses no trace.

The background writer commits traces in batches a few milliseconds after the response
has gone out. To close that window, :meth:`TraceJournal.append` first writes the trace
as one JSON line (the spool's format) to the current journal segment with a single
``write`` system call: once it returns, the line is in the operating system's page cache
and survives a crash or kill of the process (not a power loss, like the SQLite store's
``synchronous=NORMAL``). It costs tens of microseconds and no ``fsync``.

Segments rotate; a rotated segment is deleted once every trace in it has been handed to
the store (stored, or spooled durably when the database is down). Each live segment is
held under an exclusive ``flock``, so several gateway workers can share one directory.
At start-up :meth:`TraceJournal.recover` appends the lines of segments no live process
holds to the store's spool (fsynced) and deletes them; the spool's replay then stores
them, skipping ids already stored, so recovery is idempotent.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from switchtower.store.codec import trace_to_json_bytes
from switchtower.store.spool import Spool
from switchtower.types import Trace

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["Segment", "TraceJournal"]

log = logging.getLogger(__name__)


class Segment:
    """One open, locked journal file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.opened = time.monotonic()
        self.size = 0

    def release(self) -> None:
        """Every trace in this segment is stored or spooled: delete it."""
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)


class TraceJournal:
    """Append-before-commit journal segments in ``directory``."""

    def __init__(
        self, directory: str | os.PathLike[str], *, max_age_s: float = 1.0, max_bytes: int = 4 << 20
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._seq = 0
        self._current = self._new_segment()

    def _new_segment(self) -> Segment:
        self._seq += 1
        name = f"journal-{os.getpid()}-{time.time_ns()}-{self._seq}.jsonl"
        return Segment(self.directory / name)

    def append(self, trace: Trace) -> None:
        """Write the trace's line to the current segment (one ``write``, no fsync)."""
        data = trace_to_json_bytes(trace) + b"\n"
        with self._lock:
            seg = self._current
            os.write(seg.fd, data)
            seg.size += len(data)

    def due(self) -> bool:
        seg = self._current
        return seg.size > 0 and (
            seg.size >= self.max_bytes or time.monotonic() - seg.opened >= self.max_age_s
        )

    def rotate(self) -> Segment:
        """Start a new segment; the old one is returned, to be released once its traces
        (all appended before this call) have been handed to the store."""
        with self._lock:
            old, self._current = self._current, self._new_segment()
        return old

    def close(self) -> None:
        """Clean shutdown: everything was written, drop the (empty of news) segment."""
        with self._lock:
            self._current.release()

    def recover(self, spool: Spool) -> int:
        """Move lines of segments no live process holds into ``spool``; returns the count."""
        moved = 0
        for path in sorted(self.directory.glob("journal-*.jsonl")):
            if path == self._current.path:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                if fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # another worker's live segment
                with open(path, encoding="utf-8", errors="replace") as fh:
                    lines = [line.rstrip("\n") for line in fh if line.strip()]
                spool.extend_lines(lines)
                path.unlink(missing_ok=True)
                moved += len(lines)
            finally:
                os.close(fd)
        if moved:
            log.warning("recovered %d traces from an interrupted journal into %s", moved, spool)
        return moved
