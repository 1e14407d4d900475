"""Per-key request rate limits and daily USD budgets.

Three implementations of one small interface:

- :class:`MemoryLimiter` keeps counters in the process (the embedded default: one
  gateway process);
- :class:`RedisLimiter` keeps them in Redis (``storage.redis_url``) so that every
  replica sharing that Redis enforces the same limits. The rate check-and-count is one
  Lua script (atomic); spend is ``INCRBYFLOAT`` + ``EXPIRE`` in one transaction;
- :class:`~switchtower.server.sql_limiter.SqlLimiter` keeps them in the trace database
  (PostgreSQL replicas without Redis, or several workers on one SQLite file).

Rate limits use a sliding-window counter over one minute: the previous minute's count,
weighted by how much of it still overlaps the last 60 s, plus this minute's count.
Refused requests are not counted. Budgets are per UTC day: a request is admitted while
the day's spend is below the budget (the request that crosses it still completes, and
its cost is charged), and the remaining budget caps the router's ``max_cost_usd``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = [
    "WINDOW_S",
    "Limiter",
    "MemoryLimiter",
    "RedisLimiter",
    "day_key",
    "retry_after",
    "seconds_until_utc_midnight",
]

WINDOW_S = 60
_SPEND_TTL_S = 2 * 86_400


def day_key(now: float) -> str:
    return time.strftime("%Y%m%d", time.gmtime(now))


def seconds_until_utc_midnight(now: float) -> float:
    return 86_400 - (now % 86_400)


def retry_after(rpm: int, curr: int, prev: int, elapsed: float) -> float:
    """Seconds until the sliding-window estimate leaves room for one more request."""
    remaining_in_window = WINDOW_S - elapsed
    if curr + 1 > rpm or prev <= 0:
        return max(1.0, math.ceil(remaining_in_window))
    # prev * (remaining - t) / W + curr + 1 <= rpm  =>  t >= remaining - (rpm-curr-1) W / prev
    t = remaining_in_window - (rpm - curr - 1) * WINDOW_S / prev
    return max(1.0, math.ceil(t))


class Limiter(Protocol):
    """Counters shared by every request of a key (and, with Redis, every replica)."""

    async def acquire(self, key_id: str, rpm: int) -> float | None:
        """Count one request; ``None`` when admitted, else seconds to wait (not counted)."""
        ...

    async def spent(self, key_id: str) -> float:
        """USD charged to the key today (UTC)."""
        ...

    async def charge(self, key_id: str, usd: float) -> None: ...

    async def ping(self) -> bool: ...

    async def aclose(self) -> None: ...


class MemoryLimiter:
    """In-process counters: exact for one replica, nothing shared."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._spend: dict[tuple[str, str], float] = {}

    async def acquire(self, key_id: str, rpm: int) -> float | None:
        now = self._clock()
        window = int(now // WINDOW_S)
        elapsed = now - window * WINDOW_S
        curr = self._counts.get((key_id, window), 0)
        prev = self._counts.get((key_id, window - 1), 0)
        if prev * (WINDOW_S - elapsed) / WINDOW_S + curr + 1 > rpm:
            return retry_after(rpm, curr, prev, elapsed)
        self._counts[(key_id, window)] = curr + 1
        if len(self._counts) > 4096:  # forget windows older than the previous one
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window - 1}
        return None

    async def spent(self, key_id: str) -> float:
        return self._spend.get((key_id, day_key(self._clock())), 0.0)

    async def charge(self, key_id: str, usd: float) -> None:
        if usd <= 0:
            return
        k = (key_id, day_key(self._clock()))
        self._spend[k] = self._spend.get(k, 0.0) + usd

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


_ACQUIRE_LUA = """
local curr = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
if prev * tonumber(ARGV[2]) + curr + 1 > tonumber(ARGV[1]) then
  return {0, curr, prev}
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, curr + 1, prev}
"""


class RedisLimiter:
    """Counters in Redis, shared by every gateway replica using the same URL and prefix."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "switchtower:",
        clock: Callable[[], float] = time.time,
        client: Any = None,
    ) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = client if client is not None else aioredis.Redis.from_url(url)
        self._prefix = prefix
        self._clock = clock
        self._acquire = self._redis.register_script(_ACQUIRE_LUA)

    def _rate_key(self, key_id: str, window: int) -> str:
        return f"{self._prefix}rpm:{key_id}:{window}"

    def _spend_key(self, key_id: str, now: float) -> str:
        return f"{self._prefix}spend:{key_id}:{day_key(now)}"

    async def acquire(self, key_id: str, rpm: int) -> float | None:
        now = self._clock()
        window = int(now // WINDOW_S)
        elapsed = now - window * WINDOW_S
        weight = (WINDOW_S - elapsed) / WINDOW_S
        ok, curr, prev = await self._acquire(
            keys=[self._rate_key(key_id, window), self._rate_key(key_id, window - 1)],
            args=[rpm, repr(weight), 2 * WINDOW_S],
        )
        if int(ok) == 1:
            return None
        return retry_after(rpm, int(curr), int(prev), elapsed)

    async def spent(self, key_id: str) -> float:
        raw = await self._redis.get(self._spend_key(key_id, self._clock()))
        return float(raw) if raw is not None else 0.0

    async def charge(self, key_id: str, usd: float) -> None:
        if usd <= 0:
            return
        key = self._spend_key(key_id, self._clock())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrbyfloat(key, usd)
            pipe.expire(key, _SPEND_TTL_S)
            await pipe.execute()

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def aclose(self) -> None:
        await self._redis.aclose()
