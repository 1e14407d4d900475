"""Per-key rate limits and daily budgets kept in the SQL database (``storage.url``).

The :class:`~switchtower.server.budgets.Limiter` for deployments that share a database
but no Redis: several gateway replicas on one PostgreSQL, or several worker processes
of one gateway on one SQLite file. The counting rules are those of ``budgets.py``
(sliding one-minute window; spend per UTC day); only where the counters live differs.

Two tables, created idempotently beside the key table (``CREATE TABLE IF NOT
EXISTS``): ``switchtower_rate_counts`` (key, minute, count) and ``switchtower_spend``
(key, UTC day, USD). The check-and-count is one conditional upsert,
``INSERT .. ON CONFLICT DO UPDATE SET n = n + 1 WHERE <room left> RETURNING n``, so two
replicas admitting the same key's requests at the same instant never admit more than
the limit between them: the database serialises the updates of that row. Spend is
added with an upsert too (``usd = usd + :usd``). Rows of past windows are pruned when a
process first sees a new minute, and spend older than two days when it first charges on
a new day (Redis keys expire after two days too).

The engine is synchronous; every call runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from switchtower.errors import ConfigError
from switchtower.server.budgets import WINDOW_S, day_key, retry_after
from switchtower.store.migrate import create_tables

__all__ = ["SqlLimiter"]

_metadata = sa.MetaData()

rate_counts = sa.Table(
    "switchtower_rate_counts",
    _metadata,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("win", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("n", sa.Integer, nullable=False),
)

spend = sa.Table(
    "switchtower_spend",
    _metadata,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(8), primary_key=True),
    sa.Column("usd", sa.Double, nullable=False),
)

#: days of spend kept (today and yesterday, as the Redis keys' time to live)
_SPEND_DAYS = 2

_Insert = Callable[..., Any]


def _dialect_insert(engine: Engine) -> _Insert:
    """The ``INSERT .. ON CONFLICT`` construct of the engine's database."""
    name = engine.dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise ConfigError(
        f"rate limits and budgets in the database need PostgreSQL or SQLite, not {name!r}; "
        "set storage.redis_url instead",
        key="storage.url",
    )


class SqlLimiter:
    """Counters in the trace database, shared by every process that uses the same one."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._insert = _dialect_insert(engine)
        self._clock = clock
        self._pruned_window: int | None = None
        self._pruned_day: str | None = None
        create_tables(engine, _metadata)  # safe when replicas start together

    @classmethod
    def open(cls, url: str, *, clock: Callable[[], float] = time.time) -> SqlLimiter:
        from switchtower.store.migrate import create_engine

        try:
            return cls(create_engine(url), clock=clock)
        except sa.exc.SQLAlchemyError as exc:
            raise ConfigError(
                f"cannot open the rate-limit database: {exc}", key="storage.url"
            ) from exc

    # -- synchronous parts (run in a worker thread) ----------------------------------------

    def _count(self, conn: Connection, key_id: str, window: int) -> int:
        n = conn.execute(
            sa.select(rate_counts.c.n).where(
                rate_counts.c.key_id == key_id, rate_counts.c.win == window
            )
        ).scalar()
        return int(n or 0)

    def _acquire(self, key_id: str, rpm: int) -> float | None:
        now = self._clock()
        window = int(now // WINDOW_S)
        elapsed = now - window * WINDOW_S
        share = (WINDOW_S - elapsed) / WINDOW_S  # of the previous minute still in view
        t = rate_counts.c
        prev_n = sa.func.coalesce(
            sa.select(t.n)
            .where(t.key_id == key_id, t.win == window - 1)
            .scalar_subquery()
            .correlate(None),
            0,
        )
        # one write statement: it takes the write lock first (SQLite waits its turn
        # instead of failing a read-then-write upgrade), and it counts only with room left
        stmt = (
            self._insert(rate_counts)
            .from_select(
                ["key_id", "win", "n"],
                sa.select(
                    sa.literal(key_id, sa.String), sa.literal(window, sa.BigInteger), sa.literal(1)
                ).where(prev_n * share + 1 <= rpm),
            )
            .on_conflict_do_update(
                index_elements=[t.key_id, t.win],
                set_={"n": t.n + 1},
                where=t.n + 1 + prev_n * share <= rpm,
            )
            .returning(t.n)
        )
        with self._engine.begin() as conn:
            if self._pruned_window != window:  # a new minute: drop the ones out of view
                conn.execute(sa.delete(rate_counts).where(t.win < window - 1))
                self._pruned_window = window
            if conn.execute(stmt).first() is not None:
                return None
            curr = self._count(conn, key_id, window)
            prev = self._count(conn, key_id, window - 1)
        return retry_after(rpm, curr, prev, elapsed)

    def _spent(self, key_id: str) -> float:
        with self._engine.connect() as conn:
            usd = conn.execute(
                sa.select(spend.c.usd).where(
                    spend.c.key_id == key_id, spend.c.day == day_key(self._clock())
                )
            ).scalar()
        return float(usd or 0.0)

    def _charge(self, key_id: str, usd: float) -> None:
        now = self._clock()
        today = day_key(now)
        stmt = self._insert(spend).values(key_id=key_id, day=today, usd=usd)
        stmt = stmt.on_conflict_do_update(
            index_elements=[spend.c.key_id, spend.c.day], set_={"usd": spend.c.usd + usd}
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)
            if self._pruned_day != today:  # a new day: drop the days no longer kept
                oldest = day_key(now - (_SPEND_DAYS - 1) * 86_400)
                conn.execute(sa.delete(spend).where(spend.c.day < oldest))
                self._pruned_day = today

    def _ping(self) -> bool:
        try:
            with self._engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    # -- the Limiter interface -----------------------------------------------------------

    async def acquire(self, key_id: str, rpm: int) -> float | None:
        """Count one request; ``None`` when admitted, else seconds to wait (not counted)."""
        return await asyncio.to_thread(self._acquire, key_id, rpm)

    async def spent(self, key_id: str) -> float:
        return await asyncio.to_thread(self._spent, key_id)

    async def charge(self, key_id: str, usd: float) -> None:
        if usd > 0:
            await asyncio.to_thread(self._charge, key_id, usd)

    async def ping(self) -> bool:
        return await asyncio.to_thread(self._ping)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._engine.dispose)
