"""The OpenAPI parts of deferred requests: the ``async`` hint, the 202 job handle and
``GET /v1/jobs/{job_id}`` (kept apart so :mod:`switchtower.server.openapi` stays small)."""

from __future__ import annotations

from typing import Any

from switchtower.queue import JOB_STATUSES

__all__ = [
    "ASYNC_HINT",
    "ASYNC_METADATA",
    "CACHE_HINT",
    "JOB_SCHEMA",
    "WEBHOOK_HINT",
    "WEBHOOK_METADATA",
    "deferred_response",
    "jobs_path",
]

_JSON = "application/json"

ASYNC_HINT: dict[str, Any] = {
    "name": "x-switchtower-async",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["true", "false", "1", "0"]},
    "description": "Take a job handle (HTTP 202) when routing picks a provider batch API.",
}
ASYNC_METADATA: dict[str, Any] = {"type": ["boolean", "string"]}
CACHE_HINT: dict[str, Any] = {
    "name": "x-switchtower-cache",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["true", "false", "1", "0"]},
    "description": "true: answer from the response cache even when not deterministic; "
    "false: never.",
}

WEBHOOK_HINT: dict[str, Any] = {
    "name": "x-switchtower-webhook",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "format": "uri"},
    "description": "With the async hint: a URL under one of the gateway's "
    "`queue.webhooks.allow` prefixes, sent a signed event (Standard Webhooks) when the "
    "job finishes.",
}
WEBHOOK_METADATA: dict[str, Any] = {"type": "string", "format": "uri"}

JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "object", "status", "model", "url"],
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "const": "switchtower.job"},
        "status": {"type": "string", "enum": list(JOB_STATUSES)},
        "created_at": {"type": "number"},
        "updated_at": {"type": "number"},
        "deadline_at": {"type": "number"},
        "operation": {"type": "string"},
        "tier": {"type": "string"},
        "model": {"type": "string"},
        "fallbacks": {"type": "array", "items": {"type": "string"}},
        "batch_id": {"type": ["string", "null"]},
        "url": {"type": "string"},
        "error": {
            "type": "object",
            "properties": {"kind": {"type": "string"}, "message": {"type": "string"}},
        },
        "response": {
            "type": "object",
            "description": "The answer once completed, in the format of the request.",
        },
        "webhook": {
            "type": "object",
            "description": "The job's webhook and how its event's delivery went.",
            "properties": {
                "url": {"type": "string"},
                "state": {"type": "string", "enum": ["waiting", "pending", "delivered", "gave_up"]},
                "attempts": {"type": "integer"},
                "error": {"type": ["string", "null"]},
            },
        },
    },
}


def deferred_response(routing_headers: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": "Accepted as a job for a provider batch API (the request sent the "
        "`async` hint); poll `Location`.",
        "headers": {**routing_headers, "location": {"schema": {"type": "string"}}},
        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Job"}}},
    }


def jobs_path(security: list[dict[str, list[str]]], errors: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": "A deferred request: its status, and its answer once completed.",
            "operationId": "getJob",
            "parameters": [
                {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "security": security,
            "responses": {
                "200": {
                    "description": "The job.",
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Job"}}},
                },
                **errors,
            },
        }
    }
