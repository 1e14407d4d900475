"""Register the built-in response caches."""

from switchtower.cache.stores import memory_factory, redis_factory
from switchtower.registries import caches

caches.add("memory", memory_factory)
caches.add("redis", redis_factory)
