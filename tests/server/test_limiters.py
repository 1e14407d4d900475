"""Every limiter counts alike: a sliding one-minute window, refusals not counted, spend
per UTC day. The shared ones (Redis; the SQL database on SQLite and on the machine's
PostgreSQL) also share their counts between instances, as replicas or workers do, and
never admit more than the limit when instances race."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis

from switchtower.config import Config
from switchtower.errors import ConfigError
from switchtower.server import Limiter, MemoryLimiter, RedisLimiter, SqlLimiter
from switchtower.server.factory import limiter_for, limiter_kind

REDIS_URL = "redis://127.0.0.1:6379/0"
#: 2026-11-25 00:02:00 UTC: the start of a one-minute window
T0 = 1_795_651_320.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


Factory = Callable[[Clock], Limiter]

SHARED = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


async def _limiters(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    """Makes limiters of one kind; those of a shared kind share one backing store."""
    made: list[Limiter] = []
    prefix = f"switchtower-test:{uuid.uuid4().hex}:"
    url = ""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'limits.db'}"
    elif request.param == "postgres":
        url = str(request.getfixturevalue("pg_url"))
    elif request.param == "redis":
        try:
            redis.Redis.from_url(REDIS_URL).ping()
        except redis.RedisError:
            pytest.skip("needs Redis on 127.0.0.1:6379")

    def make(clock: Clock) -> Limiter:
        limiter: Limiter
        if request.param == "memory":
            limiter = MemoryLimiter(clock=clock)
        elif request.param == "redis":
            limiter = RedisLimiter(REDIS_URL, prefix=prefix, clock=clock)
        else:
            limiter = SqlLimiter.open(url, clock=clock)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()
    if request.param == "redis":
        sync = redis.Redis.from_url(REDIS_URL)
        for k in sync.scan_iter(match=f"{prefix}*"):
            sync.delete(k)
        sync.close()


@pytest.fixture(params=["memory", *SHARED])
async def new_limiter(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    """Limiters of every kind."""
    async for make in _limiters(request, tmp_path):
        yield make


@pytest.fixture(params=SHARED)
async def new_shared_limiter(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Factory]:
    """Limiters of the kinds whose instances share counts (not in-process memory)."""
    async for make in _limiters(request, tmp_path):
        yield make


async def test_sliding_window_and_retry_after(new_limiter: Factory) -> None:
    clock = Clock()
    lim = new_limiter(clock)
    assert [await lim.acquire("k", 3) for _ in range(3)] == [None, None, None]
    assert await lim.acquire("k", 3) == 60.0  # refused: the whole minute is left
    assert await lim.acquire("other", 3) is None  # keys are counted apart
    clock.t = T0 + 60 + 30  # half of the previous minute's 3 still counts: 1.5
    assert await lim.acquire("k", 3) is None  # 1.5 + 1 <= 3
    # 1.5 + 1 + 1 > 3: room again once the carried share falls to 1, in 10 s
    assert await lim.acquire("k", 3) == 10.0
    clock.t = T0 + 60 + 40
    assert await lim.acquire("k", 3) is None  # the refusal above was not counted
    clock.t = T0 + 180  # two minutes on: nothing carried
    assert [await lim.acquire("k", 2) for _ in range(3)] == [None, None, 60.0]


async def test_spend_is_per_utc_day(new_limiter: Factory) -> None:
    clock = Clock()
    lim = new_limiter(clock)
    await lim.charge("k", 0.25)
    await lim.charge("k", 0.5)
    await lim.charge("k", 0.0)
    assert await lim.spent("k") == pytest.approx(0.75)
    assert await lim.spent("other") == 0.0
    clock.t = T0 + 86_400
    assert await lim.spent("k") == 0.0
    await lim.charge("k", 1.0)
    assert await lim.spent("k") == pytest.approx(1.0)
    assert await lim.ping()


async def test_instances_share_counts(new_shared_limiter: Factory) -> None:
    clock = Clock()
    a, b = new_shared_limiter(clock), new_shared_limiter(clock)
    assert await a.acquire("k", 3) is None
    assert await b.acquire("k", 3) is None
    assert await a.acquire("k", 3) is None
    assert await b.acquire("k", 3) is not None
    await a.charge("k", 0.5)
    await b.charge("k", 0.25)
    assert await a.spent("k") == pytest.approx(0.75)
    assert await b.spent("k") == pytest.approx(0.75)


async def test_racing_instances_never_admit_more_than_the_limit(
    new_shared_limiter: Factory,
) -> None:
    clock = Clock(T0 + 5)
    a, b = new_shared_limiter(clock), new_shared_limiter(clock)
    answers = await asyncio.gather(*(lim.acquire("k", 10) for lim in (a, b) * 20))
    assert sum(w is None for w in answers) == 10
    assert all(w is None or w >= 1.0 for w in answers)


def _config(**storage: object) -> Config:
    return Config.model_validate({"storage": storage})


def test_auto_picks_redis_then_the_server_database_then_memory() -> None:
    assert limiter_kind(_config()) == "memory"
    assert limiter_kind(_config(url="sqlite:///x.db", limiter="sql")) == "sql"
    assert limiter_kind(_config(url="postgresql://u@h/db")) == "sql"
    assert limiter_kind(_config(url="postgres://u@h/db")) == "sql"
    assert limiter_kind(_config(url="postgresql://u@h/db", redis_url=REDIS_URL)) == "redis"
    assert limiter_kind(_config(redis_url=REDIS_URL, limiter="memory")) == "memory"
    assert isinstance(limiter_for(_config()), MemoryLimiter)
    with pytest.raises(ConfigError, match="redis_url"):
        limiter_for(_config(limiter="redis"))


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["keys", "limiter"])
def test_replicas_starting_together_on_an_empty_database_all_open(pg_url: str, store: str) -> None:
    """Two concurrent CREATE TABLE IF NOT EXISTS of one table can collide in PostgreSQL
    (a unique violation in pg_type): one of two replicas started together used to exit."""
    from concurrent.futures import ThreadPoolExecutor

    from switchtower.server import KeyStore

    def one(_: int) -> None:
        opened = KeyStore.open(pg_url) if store == "keys" else SqlLimiter.open(pg_url)
        if isinstance(opened, KeyStore):
            opened.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(one, range(6)))
