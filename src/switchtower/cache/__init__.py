"""The response cache: an identical deterministic request is answered from a stored
answer, at no cost, and traced as a cache hit.

``keys.py`` which requests are cached and under what key, ``stores.py`` the built-in
backends (``memory``: this process, LRU with a TTL; ``redis``: shared by every replica),
registered in ``switchtower.registries.caches``. See docs/cache.md.
"""

from switchtower.cache.keys import cache_key
from switchtower.cache.stores import MemoryCache, RedisCache

__all__ = ["MemoryCache", "RedisCache", "cache_key"]
