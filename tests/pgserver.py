"""The machine's PostgreSQL as the tests reach it (trust auth, database ``test``)."""

from __future__ import annotations

import psycopg

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be reached, or ``None`` when it can."""
    try:
        with psycopg.connect(PG_DSN):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at 127.0.0.1:5432 (user postgres, db test) unreachable: {exc}"
