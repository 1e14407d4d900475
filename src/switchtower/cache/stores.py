"""The built-in cache backends. Both store plain JSON-able dicts (an answer as
:func:`~switchtower.store.codec.completion_to_json` writes it) under a key, for a TTL."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from switchtower.config.schema import Config

__all__ = ["MemoryCache", "RedisCache", "memory_factory", "redis_factory"]

_PREFIX = "switchtower:cache:"


class MemoryCache:
    """This process only: least recently used entries go first beyond ``max_entries``."""

    name = "memory"

    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    async def get(self, key: str) -> dict[str, Any] | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        expires, value = hit
        if expires <= self.clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def put(self, key: str, value: Mapping[str, Any], ttl_s: float) -> None:
        self._entries[key] = (self.clock() + ttl_s, dict(value))
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        self._entries.clear()


class RedisCache:
    """Shared by every gateway replica using the same Redis (``storage.redis_url``)."""

    name = "redis"

    def __init__(self, url: str, *, prefix: str = _PREFIX) -> None:
        import redis.asyncio as aioredis

        self.prefix = prefix
        self._client = aioredis.Redis.from_url(url, socket_timeout=0.5)

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self._client.get(self.prefix + key)
        if raw is None:
            return None
        value = orjson.loads(raw)
        return value if isinstance(value, dict) else None

    async def put(self, key: str, value: Mapping[str, Any], ttl_s: float) -> None:
        ms = max(1, int(ttl_s * 1000))
        await self._client.set(self.prefix + key, orjson.dumps(dict(value)), px=ms)

    async def aclose(self) -> None:
        await self._client.aclose()


def memory_factory(*, config: Config | None = None, max_entries: int = 10_000) -> MemoryCache:
    del config
    return MemoryCache(max_entries=max_entries)


def redis_factory(*, config: Config | None = None, url: str | None = None) -> RedisCache:
    target = url or (config.storage.redis_url if config is not None else None)
    if not target:
        from switchtower.errors import ConfigError

        raise ConfigError("cache redis needs storage.redis_url (or options.url)", key="cache")
    return RedisCache(target)
