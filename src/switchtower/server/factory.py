"""Build the gateway from configuration (what ``switchtower serve`` runs in each worker)."""

from __future__ import annotations

from switchtower.config import Config, load_config
from switchtower.pipeline import Pipeline
from switchtower.server.app import GatewayApp, create_app
from switchtower.server.budgets import Limiter, MemoryLimiter, RedisLimiter
from switchtower.server.keys import KeyStore

__all__ = ["app_from_config", "app_from_environment", "limiter_for"]


def limiter_for(config: Config) -> Limiter:
    """Redis when ``storage.redis_url`` is set (shared by replicas), else in process."""
    if config.storage.redis_url:
        return RedisLimiter(config.storage.redis_url)
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
