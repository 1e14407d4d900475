"""The HTTP gateway: OpenAI- and Anthropic-compatible endpoints in front of the pipeline.

``create_app(pipeline)`` builds the ASGI app; ``switchtower serve`` runs it under uvicorn.
"""

from __future__ import annotations

from switchtower.server.app import GatewayApp, create_app
from switchtower.server.budgets import Limiter, MemoryLimiter, RedisLimiter
from switchtower.server.keys import ApiKey, KeyStore
from switchtower.server.sql_limiter import SqlLimiter

__all__ = [
    "ApiKey",
    "GatewayApp",
    "KeyStore",
    "Limiter",
    "MemoryLimiter",
    "RedisLimiter",
    "SqlLimiter",
    "create_app",
]
