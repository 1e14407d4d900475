"""Store fixtures: every store test runs on SQLite (a temp file) and on the machine's
real PostgreSQL (a uniquely named schema per test, dropped afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from switchtower.store import SqlTraceStore, open_store

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_DSN):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at 127.0.0.1:5432 (user postgres, db test) unreachable: {exc}"


@pytest.fixture(scope="session")
def pg_skip_reason() -> str | None:
    return _pg_reachable()


@pytest.fixture
def pg_url(pg_skip_reason: str | None) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema (so parallel runs never collide)."""
    if pg_skip_reason:
        pytest.skip(pg_skip_reason)
    schema = f"st_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'traces.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def store(db_url: str, spool_dir: Path) -> Iterator[SqlTraceStore]:
    s = open_store(db_url, spool_dir=spool_dir)
    try:
        yield s
    finally:
        s.close()
