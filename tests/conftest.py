"""Shared fixtures. The fake upstreams live in ``tests/fakes`` (importable as ``fakes``);
``pg_url`` is the machine's real PostgreSQL with a uniquely named schema per test,
dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from fakes.fixtures import (  # noqa: F401 - fixtures are found by name
    fake_anthropic,
    fake_anthropic_server,
    fake_openai,
    fake_openai_server,
)
from pgserver import PG_DSN, PG_URL, pg_unreachable


@pytest.fixture(scope="session")
def pg_skip_reason() -> str | None:
    return pg_unreachable()


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
