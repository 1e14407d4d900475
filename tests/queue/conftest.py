"""Fixtures shared by the queue tests: a SQLite URL in tmp_path and a trace store on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from switchtower.store import SqlTraceStore, open_store


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'st.db'}"


@pytest.fixture
def traces(url: str, tmp_path: Path) -> Iterator[SqlTraceStore]:
    store = open_store(url, spool_dir=tmp_path)
    yield store
    store.close()
