"""Engines and schema migrations for the trace store.

Migrations ship inside the package (``migrations/``) and run programmatically when a
store opens: there is no alembic.ini. Opening is idempotent and safe when several
processes open the same database at once: PostgreSQL serializes upgrades with an
advisory lock, SQLite with ``BEGIN IMMEDIATE``; both run the whole upgrade in one
transaction, so a failed migration leaves the schema as it was.
"""

from __future__ import annotations

import sqlite3
import time
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from switchtower.store.codec import json_text

__all__ = [
    "VERSION_TABLE",
    "alembic_config",
    "create_engine",
    "create_tables",
    "current_revision",
    "head_revision",
    "normalize_url",
    "upgrade",
]

VERSION_TABLE = "switchtower_alembic_version"
#: pg_advisory_xact_lock key held while migrating ("swtw" in ASCII)
_PG_LOCK_KEY = 0x73777477


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; ``postgresql://`` and ``postgres://`` use psycopg 3."""
    text = str(url) if isinstance(url, URL) else url
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://") :]
    parsed = make_url(text)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_engine(url: str | URL, *, busy_timeout_ms: int = 5000) -> Engine:
    """An engine for the trace store: WAL and a busy timeout on SQLite, pre-ping on PostgreSQL.

    JSON columns are written by :func:`~switchtower.store.codec.json_text` (orjson: a
    trace's signals and decision in one C call instead of a Python walk per value).

    SQLite runs in WAL mode (readers never block the writer, so a CLI and a gateway can
    share one file) with ``synchronous=NORMAL``: a committed trace survives a process
    crash; only an OS crash or power loss can lose the last few commits.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = 5
        return sa.create_engine(
            parsed, pool_pre_ping=True, connect_args=connect_args, json_serializer=json_text
        )
    if is_memory(parsed):
        engine = sa.create_engine(
            parsed,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            json_serializer=json_text,
        )
    else:
        assert parsed.database is not None
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            parsed, connect_args={"check_same_thread": False}, json_serializer=json_text
        )
    _sqlite_events(engine, busy_timeout_ms)
    return engine


def _set_wal(cur: Any, busy_timeout_ms: int) -> None:
    """Switch the file to WAL (persistent: later connections find it set).

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once,
    without its busy handler, when several processes open a new file together; so the
    switch is retried with a short backoff up to the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000.0
    delay = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode")
            if str(cur.fetchone()[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _sqlite_events(engine: Engine, busy_timeout_ms: int) -> None:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling skips DDL and cannot BEGIN IMMEDIATE; take
        # it over (the recipe in SQLAlchemy's SQLite dialect docs)
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            _set_wal(cur, busy_timeout_ms)
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    def on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    sa.event.listen(engine, "connect", on_connect)
    sa.event.listen(engine, "begin", on_begin)


def alembic_config() -> AlembicConfig:
    """An Alembic config pointing at the migrations inside the installed package."""
    cfg = AlembicConfig()
    location = resources.files("switchtower.store") / "migrations"
    cfg.set_main_option("script_location", str(location))
    # revision files must be importable module names (mypy checks them): v0002_slug.py
    cfg.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def create_tables(engine: Engine, metadata: sa.MetaData) -> None:
    """``metadata.create_all`` that replicas starting together on one database can all
    run: on PostgreSQL under the migrations' advisory lock (two concurrent ``CREATE TABLE
    IF NOT EXISTS`` of one table can still collide there), on SQLite in one write
    transaction."""
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            metadata.create_all(conn, checkfirst=True)


def current_revision(connection: Connection) -> str | None:
    ctx = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op (one query) when it is already there."""
    cfg = alembic_config()
    if revision == "head":
        with engine.connect() as conn:
            if current_revision(conn) == ScriptDirectory.from_config(cfg).get_current_head():
                return
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
