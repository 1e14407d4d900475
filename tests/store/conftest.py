"""Store fixtures: every store test runs on SQLite (a temp file) and on the machine's
real PostgreSQL (``pg_url``, from the root conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from switchtower.store import SqlTraceStore, open_store


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
