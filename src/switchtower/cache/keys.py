"""Which requests the cache answers, and the key of each.

A request is cacheable when it is not streamed, asks for one choice, and either is
deterministic (``temperature: 0``; with ``cache.when: deterministic``, the default) or
the client asked for the cache (``x-switchtower-cache: true``). ``cache.when: always``
caches every such request, ``never`` none; the client's ``false`` always wins.

The key is a SHA-256 of the canonical JSON of everything that shapes the answer: the
messages, the generation parameters (not ``stream``, ``stream_options``, ``user``,
``metadata``), the routing constraints (concrete model, operation, pinned and maximum
tier) and, with ``cache.scope: key`` (the default), the API key: callers never share
answers unless the config says so.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from switchtower.types import Request

__all__ = ["IGNORED_PARAMS", "cache_key"]

#: parameters that do not change the answer
IGNORED_PARAMS = frozenset({"stream", "stream_options", "user", "metadata", "store"})


def cache_key(
    request: Request,
    *,
    when: Literal["deterministic", "always", "never"] = "deterministic",
    api_key_id: str | None = None,
    scope: Literal["key", "global"] = "key",
) -> str | None:
    """The request's cache key, or None when it must not be answered from the cache."""
    params = request.params
    if request.cache is False or when == "never":
        return None
    if params.get("stream") or (isinstance(params.get("n"), int) and params["n"] > 1):
        return None
    if request.cache is None and when == "deterministic" and params.get("temperature") != 0:
        return None
    payload = {
        "messages": list(request.messages),
        "params": {k: v for k, v in params.items() if k not in IGNORED_PARAMS},
        "model": request.model,
        "operation": request.operation,
        "pinned_tier": request.pinned_tier,
        "max_tier": request.max_tier,
        "key": api_key_id if scope == "key" else None,
    }
    raw = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
