"""Who may call, how often, and for how much: API keys in front of the limiter.

Keys are read from ``Authorization: Bearer <key>`` (OpenAI SDK) or ``x-api-key`` (Anthropic
SDK). Lookups are cached for ``cache_ttl_s`` (default 5 s), so a revocation reaches
every replica within that time without a database round trip on every request.

The gateway requires a key as soon as any key has ever been issued (revoking every key
does not open the gateway again). Before that it serves without keys, and ``serve``
refuses to bind anything but loopback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from switchtower.server.budgets import Limiter, seconds_until_utc_midnight
from switchtower.server.http_errors import (
    AuthenticationError,
    BudgetExceededError,
    KeyRevokedError,
    RateLimitedError,
)
from switchtower.server.keys import ApiKey, KeyStore, hash_key

__all__ = ["Caller", "Gatekeeper", "secret_from_headers"]

_MAX_CACHE = 10_000


def secret_from_headers(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller (``key`` is None when the gateway runs without keys)."""

    key: ApiKey | None
    remaining_usd: float | None = None

    @property
    def key_id(self) -> str | None:
        return self.key.id if self.key is not None else None


class Gatekeeper:
    """Authenticates keys and applies their rate limit and daily budget."""

    def __init__(
        self,
        keys: KeyStore | None,
        limiter: Limiter,
        *,
        cache_ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.limiter = limiter
        self.cache_ttl_s = cache_ttl_s
        self._clock = clock
        self._wall = wall_clock
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}
        self._required: tuple[bool, float] | None = None

    async def auth_required(self) -> bool:
        if self.keys is None:
            return False
        now = self._clock()
        if self._required is not None and self._required[1] > now:
            return self._required[0]
        required = await asyncio.to_thread(self.keys.any_issued)
        # once required, always required: cache it for good
        self._required = (required, float("inf") if required else now + self.cache_ttl_s)
        return required

    async def _lookup(self, secret: str) -> ApiKey | None:
        assert self.keys is not None
        digest = hash_key(secret)
        now = self._clock()
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        key = await asyncio.to_thread(self.keys.lookup, secret)
        if len(self._cache) >= _MAX_CACHE:
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
        self._cache[digest] = (key, now + self.cache_ttl_s)
        return key

    async def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The caller, or AuthenticationError (401) / KeyRevokedError (403)."""
        if not await self.auth_required():
            return Caller(None)
        secret = secret_from_headers(headers)
        if secret is None:
            raise AuthenticationError(
                "no API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'"
            )
        key = await self._lookup(secret)
        if key is None:
            raise AuthenticationError("invalid API key")
        if not key.active:
            raise KeyRevokedError(f"API key {key.id} has been revoked")
        return Caller(key)

    async def admit(self, caller: Caller, *, spends: bool = True) -> Caller:
        """Check the key's budget, then count the request against its rate limit (a
        request refused for its budget is not counted: refused requests never are).

        Returns the caller with ``remaining_usd`` set when the key has a budget.
        """
        key = caller.key
        if key is None:
            return caller
        remaining: float | None = None
        if spends and key.daily_budget_usd is not None:
            spent = await self.limiter.spent(key.id)
            remaining = key.daily_budget_usd - spent
            if remaining <= 0:
                raise BudgetExceededError(
                    f"daily budget of ${key.daily_budget_usd:.4f} spent for key {key.id} "
                    f"(${spent:.4f} today, UTC)",
                    retry_after=seconds_until_utc_midnight(self._wall()),
                )
        if key.rpm is not None:
            wait = await self.limiter.acquire(key.id, key.rpm)
            if wait is not None:
                raise RateLimitedError(
                    f"rate limit of {key.rpm} requests per minute reached for key {key.id}",
                    retry_after=wait,
                )
        return caller if remaining is None else Caller(key, remaining)

    async def charge(self, caller: Caller, usd: float) -> None:
        if caller.key is not None and usd > 0:
            await self.limiter.charge(caller.key.id, usd)
