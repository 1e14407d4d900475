"""The trace store: one trace per request, in SQLite (default) or PostgreSQL.

``open_store(url)`` creates and migrates the database (Alembic migrations ship in
``migrations/``) and returns a :class:`SqlTraceStore`, which is both the
``protocols.TraceStore`` and the ``protocols.HistorySource`` of the pipeline.

How no trace is lost:

1. A write commits the trace and all its attempts in one transaction before it returns
   (SQLite in WAL mode with ``synchronous=NORMAL``, or PostgreSQL): a stored trace
   survives a crash or restart of the process, and a failed write leaves nothing
   half-written.
2. When the database is unreachable, the trace is appended (fsynced) to a spool file
   (beside a SQLite file, else in a state directory) and the error is raised for the
   caller to count and log. The spool is replayed when a store opens on it and, in the
   background, after the next successful write. Replays skip ids already stored.
3. A trace the database refuses as bad input goes to ``<spool>.rejected``.
4. :class:`SafeTraceWriter` wraps a store for the gateway: ``write`` never raises, the
   failures are counted, and a database that is down at start-up is retried later.
"""

from switchtower.store.codec import trace_from_dict, trace_to_dict
from switchtower.store.format import format_trace, format_trace_table, trace_to_json
from switchtower.store.report import Report, build_report, format_report
from switchtower.store.safe import SafeTraceWriter
from switchtower.store.spool import ReplayResult, Spool, default_spool_path
from switchtower.store.sql import SqlTraceStore, is_transient, open_store

__all__ = [
    "ReplayResult",
    "Report",
    "SafeTraceWriter",
    "Spool",
    "SqlTraceStore",
    "build_report",
    "default_spool_path",
    "format_report",
    "format_trace",
    "format_trace_table",
    "is_transient",
    "open_store",
    "trace_from_dict",
    "trace_to_dict",
    "trace_to_json",
]
