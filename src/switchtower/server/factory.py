"""Build the gateway from configuration (what ``switchtower serve`` runs in each worker)."""

from __future__ import annotations

from switchtower.config import Config, load_config
from switchtower.errors import ConfigError
from switchtower.pipeline import Pipeline
from switchtower.server.app import GatewayApp, create_app
from switchtower.server.budgets import Limiter, MemoryLimiter, RedisLimiter
from switchtower.server.keys import KeyStore
from switchtower.server.sql_limiter import SqlLimiter
from switchtower.store.migrate import normalize_url

__all__ = ["app_from_config", "app_from_environment", "limiter_for", "limiter_kind"]


def limiter_kind(config: Config) -> str:
    """``memory``, ``sql`` or ``redis``: ``storage.limiter``, with ``auto`` resolved
    (redis when ``redis_url`` is set, else sql on a server database, else memory)."""
    st = config.storage
    if st.limiter != "auto":
        return st.limiter
    if st.redis_url:
        return "redis"
    return "memory" if normalize_url(st.url).get_backend_name() == "sqlite" else "sql"


def limiter_for(config: Config) -> Limiter:
    """The limiter ``storage.limiter`` names (see :func:`limiter_kind`)."""
    kind = limiter_kind(config)
    if kind == "redis":
        if not config.storage.redis_url:
            raise ConfigError("limiter redis needs storage.redis_url", key="storage.limiter")
        return RedisLimiter(config.storage.redis_url)
    if kind == "sql":
        return SqlLimiter.open(config.storage.url)
    return MemoryLimiter()


def app_from_config(config: Config) -> GatewayApp:
    """Pipeline, key store and limiter from ``config``; the app owns and closes them (and
    the process's garbage collector: start-up objects are frozen, see ``create_app``)."""
    pipeline = Pipeline.from_config(config)
    keys = KeyStore.open(config.storage.url)
    return create_app(
        pipeline, keys=keys, limiter=limiter_for(config), owns_pipeline=True, freeze_gc=True
    )


def app_from_environment() -> GatewayApp:
    """uvicorn factory: config from ``$SWITCHTOWER_CONFIG`` or ./switchtower.yaml."""
    return app_from_config(load_config())
