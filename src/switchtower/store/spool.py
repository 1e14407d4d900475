"""The fallback spool: traces that could not reach the database, one JSON line each.

When a write fails (database down, disk full, locked too long) the trace is appended
to the spool and fsynced; the next store that opens the same database, or the next
successful write, replays the spool into the database. Replays skip trace ids that are
already stored, so replaying twice is harmless. Lines that cannot be parsed (a crash
mid-append) and traces the database rejects as bad input go to ``<spool>.rejected``
for a human to look at, so one bad trace never blocks the others.

Appends and replays hold an exclusive ``flock`` on ``<spool>.lock``, so processes
sharing a spool (a gateway and a CLI) never lose lines to each other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from switchtower.store import migrate
from switchtower.store.codec import trace_from_dict, trace_to_dict
from switchtower.types import Trace

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: in-process locking only
    fcntl = None  # type: ignore[assignment]

__all__ = ["ReplayResult", "Spool", "default_spool_path"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What one replay did: traces stored, moved to the rejected file, still pending."""

    stored: int = 0
    rejected: int = 0
    pending: int = 0


class Spool:
    """An append-only JSON-lines file of traces waiting for the database."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.rejected_path = self.path.with_name(self.path.name + ".rejected")
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r})"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._lock_path, "a+b") as fh:
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    if fcntl is not None:
                        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _append_lines(path: Path, lines: Sequence[str]) -> None:
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, trace: Trace) -> None:
        """Append one trace durably (raises OSError when the disk refuses too)."""
        line = json.dumps(trace_to_dict(trace), ensure_ascii=False, allow_nan=False)
        with self._locked():
            self._append_lines(self.path, [line])

    def extend_lines(self, lines: Sequence[str]) -> None:
        """Append already-serialised trace lines durably (one fsync), e.g. a recovered
        journal; unreadable lines are moved to the rejected file by the next replay."""
        if lines:
            with self._locked():
                self._append_lines(self.path, lines)

    def reject(self, trace: Trace, reason: str) -> None:
        """Keep a trace the database refused, with the reason, for a human to inspect."""
        entry = {"reason": reason, "trace": trace_to_dict(trace)}
        with self._locked():
            self._append_lines(self.rejected_path, [json.dumps(entry, ensure_ascii=False)])

    def pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def __len__(self) -> int:
        try:
            with open(self.path, encoding="utf-8") as fh:
                return sum(1 for line in fh if line.strip())
        except FileNotFoundError:
            return 0

    def replay(
        self,
        store_batch: Callable[[Sequence[Trace]], int],
        is_transient: Callable[[BaseException], bool],
        *,
        batch_size: int = 200,
    ) -> ReplayResult:
        """Move spooled traces into the store; keep what could not be stored yet.

        ``store_batch`` writes traces in one transaction, skipping ids already stored.
        A transient error stops the replay and leaves the rest spooled; a batch refused
        for its content is retried one trace at a time and the refused ones rejected.
        """
        with self._locked():
            try:
                with open(self.path, encoding="utf-8") as fh:
                    lines = [line.rstrip("\n") for line in fh if line.strip()]
            except FileNotFoundError:
                return ReplayResult()
            parsed: list[tuple[str, Trace]] = []
            bad: list[str] = []
            for line in lines:
                try:
                    parsed.append((line, trace_from_dict(json.loads(line))))
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    bad.append(json.dumps({"reason": f"unreadable: {exc}", "line": line}))
            stored = 0
            keep: list[str] = []
            for start in range(0, len(parsed), batch_size):
                chunk = parsed[start : start + batch_size]
                if keep:  # an outage stopped us: keep the rest in order
                    keep.extend(line for line, _ in chunk)
                    continue
                try:
                    stored += store_batch([t for _, t in chunk])
                    continue
                except Exception as exc:
                    if is_transient(exc):
                        log.warning("trace spool replay paused: %s", exc)
                        keep.extend(line for line, _ in chunk)
                        continue
                for i, (line, trace) in enumerate(chunk):
                    try:
                        stored += store_batch([trace])
                    except Exception as exc:
                        if is_transient(exc):
                            keep.extend(ln for ln, _ in chunk[i:])
                            break
                        log.error("trace %s rejected by the store: %s", trace.id, exc)
                        bad.append(json.dumps({"reason": str(exc), "line": line}))
            if bad:
                self._append_lines(self.rejected_path, bad)
            self._rewrite(keep)
            return ReplayResult(stored=stored, rejected=len(bad), pending=len(keep))

    def _rewrite(self, lines: Sequence[str]) -> None:
        if not lines:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        self._append_lines(tmp, lines)
        os.replace(tmp, self.path)


def _state_dir() -> Path:
    env = os.environ.get("SWITCHTOWER_SPOOL_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "switchtower"


def default_spool_path(url: str | URL, spool_dir: str | os.PathLike[str] | None = None) -> Path:
    """Beside a SQLite file (``<db>.spool.jsonl``); else in ``spool_dir``, then
    ``$SWITCHTOWER_SPOOL_DIR``, then ``$XDG_STATE_HOME/switchtower``, named by a hash of
    the URL (password excluded) so each database has its own spool."""
    parsed = migrate.normalize_url(url)
    if parsed.get_backend_name() == "sqlite" and not migrate.is_memory(parsed):
        assert parsed.database is not None
        db = Path(parsed.database).expanduser()
        return (Path(spool_dir) if spool_dir else db.parent) / f"{db.name}.spool.jsonl"
    key = parsed.render_as_string(hide_password=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return (Path(spool_dir) if spool_dir else _state_dir()) / f"traces-{digest}.spool.jsonl"
