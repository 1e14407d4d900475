"""The OpenAPI 3.1 document, written by hand to match the handlers.

A test checks that every route of the app is documented (and nothing else), and a
schemathesis run checks the server against it. ``model`` enums come from the config.
"""

from __future__ import annotations

from typing import Any

from switchtower.config.schema import Config
from switchtower.server.openai_wire import MESSAGE_ROLES
from switchtower.server.openapi_anthropic import anthropic_schemas, count_tokens_path
from switchtower.server.openapi_jobs import (
    ASYNC_HINT,
    ASYNC_METADATA,
    CACHE_HINT,
    JOB_SCHEMA,
    WEBHOOK_HINT,
    WEBHOOK_METADATA,
    deferred_response,
    jobs_path,
)
from switchtower.server.openapi_responses import responses_schemas
from switchtower.types import DEADLINES, TIERS

__all__ = ["openapi_document"]

_JSON = "application/json"
_SSE = "text/event-stream"
#: one server-sent event (OpenAPI 3.1 puts the per-event schema under ``schema``; the
#: generic event shape from the OpenAPI specification: ``data`` holds the JSON text)
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "contentMediaType": "application/json"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_response(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}


def _errors(codes: tuple[int, ...], schema: str = "Error") -> dict[str, Any]:
    text = {
        400: "Invalid request: the error's `param` names the field or header.",
        401: "No API key, or not one this gateway issued.",
        403: "The API key was revoked.",
        404: "Unknown model or trace.",
        429: "The key's rate limit or daily budget (see Retry-After).",
        502: "Every eligible model failed upstream (`models_tried` lists them).",
        503: "No configured model can serve the request now.",
    }
    return {str(c): _error_response(text[c], schema) for c in codes}


_ROUTING_HEADERS = {
    name: {"description": text, "schema": {"type": "string"}}
    for name, text in (
        ("x-switchtower-trace-id", "The trace of this request (use it for feedback)."),
        ("x-request-id", "The trace id again, where the openai SDK reads a request id."),
        ("request-id", "The trace id again, where the anthropic SDK reads a request id."),
        ("x-switchtower-operation", "The operation the request was classified as."),
        ("x-switchtower-tier", "The tier that served it: local, async or realtime."),
        ("x-switchtower-model", "The configured model that answered."),
        (
            "x-switchtower-cost-usd",
            "USD cost (streams: the prompt's cost, known when headers are sent).",
        ),
        ("x-switchtower-cache", "`hit` when answered from the response cache (else absent)."),
    )
}

#: a decimal number > 0 ("0.05", "2", "10.5"; not "0" or "0.0")
_POSITIVE_NUMBER = r"^[0-9]*[1-9][0-9]*(\.[0-9]+)?$|^0\.[0-9]*[1-9][0-9]*$"

_HINT_PARAMS = [
    {
        "name": "x-switchtower-operation",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "Skip the classifier: this operation.",
    },
    {
        "name": "x-switchtower-deadline",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "enum": list(DEADLINES)},
    },
    {
        "name": "x-switchtower-max-tier",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "enum": list(TIERS)},
    },
    {
        "name": "x-switchtower-max-cost-usd",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
    },
    {
        "name": "x-switchtower-tier",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "enum": list(TIERS)},
        "description": "Pin the tier.",
    },
    {
        "name": "x-switchtower-value-per-success-usd",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": _POSITIVE_NUMBER},
        "description": "What a successful answer is worth (USD): route by the value rule.",
    },
    ASYNC_HINT,
    CACHE_HINT,
    WEBHOOK_HINT,
]

_METADATA = {
    "type": "object",
    "description": "Routing hints (headers win over these keys).",
    "properties": {
        "operation": {"type": "string"},
        "deadline": {"type": "string", "enum": list(DEADLINES)},
        "max_tier": {"type": "string", "enum": list(TIERS)},
        "max_cost_usd": {"type": "number", "minimum": 0},
        "tier": {"type": "string", "enum": list(TIERS)},
        "value_per_success_usd": {"type": "number", "exclusiveMinimum": 0},
        "async": ASYNC_METADATA,
        "cache": ASYNC_METADATA,
        "webhook": WEBHOOK_METADATA,
    },
}


def _schemas(models: list[str]) -> dict[str, Any]:
    content_part = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string"}, "text": {"type": "string"}},
    }
    message = {
        "type": "object",
        "required": ["role"],
        "properties": {
            "role": {"type": "string", "enum": sorted(MESSAGE_ROLES)},
            "content": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "null"},
                    {"type": "array", "items": content_part},
                ]
            },
            "name": {"type": "string"},
            "tool_call_id": {"type": "string"},
            "tool_calls": {"type": "array", "items": {"type": "object"}},
        },
    }
    tool = {
        "type": "object",
        "required": ["type", "function"],
        "properties": {
            "type": {"type": "string", "enum": ["function"]},
            "function": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "parameters": {"type": "object"},
                },
            },
        },
    }
    chat_props: dict[str, Any] = {
        "model": {"type": "string", "enum": models},
        "messages": {"type": "array", "minItems": 1, "items": message},
        "stream": {"type": "boolean"},
        "stream_options": {
            "type": "object",
            "properties": {"include_usage": {"type": "boolean"}},
        },
        "metadata": _METADATA,
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "n": {"type": "integer", "minimum": 1},
        "stop": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "seed": {"type": "integer"},
        "tools": {"type": "array", "items": tool},
        "tool_choice": {"anyOf": [{"type": "string"}, {"type": "object"}]},
        "parallel_tool_calls": {"type": "boolean"},
        "response_format": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"type": "string"}},
        },
        "user": {"type": "string"},
        "logit_bias": {"type": "object"},
        "logprobs": {"type": "boolean"},
        "top_logprobs": {"type": "integer", "minimum": 0},
        "reasoning_effort": {"type": "string"},
        "audio": {"type": "object"},
        "function_call": {"anyOf": [{"type": "string"}, {"type": "object"}]},
        "functions": {"type": "array", "items": {"type": "object"}},
        "modalities": {"type": "array", "items": {"type": "string"}},
        "moderation": {"type": "object"},
        "prediction": {"type": "object"},
        "prompt_cache_key": {"type": "string"},
        "prompt_cache_options": {"type": "object"},
        "prompt_cache_retention": {"type": "string"},
        "safety_identifier": {"type": "string"},
        "service_tier": {"type": "string"},
        "store": {"type": "boolean"},
        "verbosity": {"type": "string"},
        "web_search_options": {"type": "object"},
        "top_k": {"type": "integer", "minimum": 0},
        "thinking": {
            "type": "object",
            "description": "Anthropic's extended thinking, for Anthropic models only.",
        },
    }
    return {
        "ChatCompletionRequest": {
            "type": "object",
            "required": ["model", "messages"],
            "properties": chat_props,
            "additionalProperties": False,
        },
        "ChatCompletion": {
            "type": "object",
            "required": ["id", "object", "created", "model", "choices", "usage"],
            "properties": {
                "id": {"type": "string"},
                "object": {"type": "string", "enum": ["chat.completion"]},
                "created": {"type": "integer"},
                "model": {"type": "string"},
                "choices": {"type": "array", "items": {"type": "object"}},
                "usage": {
                    "type": "object",
                    "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
                    "properties": {
                        "prompt_tokens": {"type": "integer"},
                        "completion_tokens": {"type": "integer"},
                        "total_tokens": {"type": "integer"},
                    },
                },
            },
        },
        "RouteRequest": {
            "type": "object",
            "description": "A chat-completions body, or `prompt` instead of `messages`.",
            "properties": {
                "model": {"type": "string", "enum": models},
                "prompt": {"type": "string"},
                "messages": chat_props["messages"],
                "metadata": _METADATA,
                "max_tokens": chat_props["max_tokens"],
            },
            "additionalProperties": False,
        },
        "Decision": {
            "type": "object",
            "required": ["request_id", "operation", "tier", "model", "explanation"],
            "properties": {
                "request_id": {"type": "string"},
                "operation": {"type": "string"},
                "confidence": {"type": "number"},
                "tier": {"type": "string", "enum": list(TIERS)},
                "model": {"type": "string"},
                "fallbacks": {"type": "array", "items": {"type": "string"}},
                "second_opinions": {"type": "array", "items": {"type": "string"}},
                "escalation": {"type": "array", "items": {"type": "string"}},
                "explanation": {"type": "object"},
            },
        },
        "FeedbackRequest": {
            "type": "object",
            "required": ["trace_id"],
            "additionalProperties": False,
            "properties": {
                "trace_id": {"type": "string", "minLength": 1, "maxLength": 64},
                "success": {"type": "boolean"},
                "score": {"type": "number", "minimum": 0, "maximum": 1},
                "comment": {"type": "string", "maxLength": 4000},
            },
        },
        "Job": JOB_SCHEMA,
        "FeedbackResult": {
            "type": "object",
            "required": ["trace_id", "recorded"],
            "properties": {"trace_id": {"type": "string"}, "recorded": {"type": "boolean"}},
        },
        "ModelList": {
            "type": "object",
            "required": ["data"],
            "properties": {"object": {"type": "string"}, "data": {"type": "array"}},
        },
        "Status": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string"}, "checks": {"type": "object"}},
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["message", "type", "param", "code"],
                    "properties": {
                        "message": {"type": "string"},
                        "type": {"type": "string"},
                        "param": {"type": ["string", "null"]},
                        "code": {"type": ["string", "null"]},
                        "models_tried": {"type": "array", "items": {"type": "string"}},
                    },
                }
            },
        },
    }


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {_JSON: {"schema": _ref(schema)}}}


def openapi_document(config: Config) -> dict[str, Any]:
    """The document for a gateway serving ``config``."""
    ops = sorted(o.name for o in config.operations)
    models = ["auto", *(f"auto:{o}" for o in ops), *config.model_names()]
    security: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}, {}]

    def answer(schema: str) -> dict[str, Any]:
        return {
            "description": "The answer (JSON, or server-sent events when `stream` is true).",
            "headers": _ROUTING_HEADERS,
            "content": {_JSON: {"schema": _ref(schema)}, _SSE: {"schema": _SSE_EVENT}},
        }

    simple = (400, 401, 403, 429)
    paths: dict[str, Any] = {
        "/v1/chat/completions": {
            "post": {
                "summary": "OpenAI-compatible chat completions, routed.",
                "operationId": "chatCompletions",
                "parameters": _HINT_PARAMS,
                "requestBody": _body("ChatCompletionRequest"),
                "security": security,
                "responses": {
                    "200": answer("ChatCompletion"),
                    "202": deferred_response(_ROUTING_HEADERS),
                    **_errors((400, 401, 403, 404, 429, 502, 503)),
                },
            }
        },
        "/v1/messages": {
            "post": {
                "summary": "Anthropic-compatible messages, routed.",
                "operationId": "messages",
                "parameters": _HINT_PARAMS,
                "requestBody": _body("MessagesRequest"),
                "security": security,
                "responses": {
                    "200": answer("Message"),
                    "202": deferred_response(_ROUTING_HEADERS),
                    **_errors((400, 401, 403, 404, 429, 502, 503), "AnthropicError"),
                },
            }
        },
        "/v1/responses": {
            "post": {
                "summary": "OpenAI Responses API (Agents SDK, Codex), routed; stateless.",
                "operationId": "responses",
                "parameters": _HINT_PARAMS,
                "requestBody": _body("ResponsesRequest"),
                "security": security,
                "responses": {
                    "200": answer("Response"),
                    **_errors((400, 401, 403, 404, 429, 502, 503)),
                },
            }
        },
        "/v1/messages/count_tokens": count_tokens_path(
            security, _errors((400, 401, 403, 429), "AnthropicError")
        ),
        "/v1/models": {
            "get": {
                "summary": "`auto`, `auto:<operation>` and the configured models.",
                "operationId": "listModels",
                "security": security,
                "responses": {
                    "200": {
                        "description": "Models (Anthropic shape when `anthropic-version` is sent).",
                        "content": {_JSON: {"schema": _ref("ModelList")}},
                    },
                    **_errors((401, 403)),
                },
            }
        },
        "/v1/models/{model_id}": {
            "get": {
                "summary": "One model of the list (the SDKs' `models.retrieve`).",
                "operationId": "getModel",
                "security": security,
                "parameters": [
                    {
                        "name": "model_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The model (Anthropic shape when `anthropic-version` "
                        "is sent).",
                        "content": {_JSON: {"schema": {"type": "object"}}},
                    },
                    **_errors((401, 403, 404)),
                },
            }
        },
        "/v1/route": {
            "post": {
                "summary": "Dry run: the decision `switchtower route --json` prints.",
                "operationId": "route",
                "parameters": _HINT_PARAMS,
                "requestBody": _body("RouteRequest"),
                "security": security,
                "responses": {
                    "200": {
                        "description": "The routing decision.",
                        "content": {_JSON: {"schema": _ref("Decision")}},
                    },
                    **_errors((*simple, 404, 503)),
                },
            }
        },
        "/v1/feedback": {
            "post": {
                "summary": "Attach an outcome to a trace for the nightly loop.",
                "operationId": "feedback",
                "requestBody": _body("FeedbackRequest"),
                "security": security,
                "responses": {
                    "200": {
                        "description": "Recorded.",
                        "content": {_JSON: {"schema": _ref("FeedbackResult")}},
                    },
                    **_errors((*simple, 404)),
                },
            }
        },
        "/v1/jobs/{job_id}": jobs_path(security, _errors((401, 403, 404))),
        "/healthz": {
            "get": {
                "summary": "Liveness.",
                "operationId": "healthz",
                "responses": {
                    "200": {"description": "Alive.", "content": {_JSON: {"schema": _ref("Status")}}}
                },
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: a model is available and the limiter answers.",
                "operationId": "readyz",
                "responses": {
                    "200": {
                        "description": "Ready.",
                        "content": {_JSON: {"schema": _ref("Status")}},
                    },
                    "503": _error_response("Not ready (`checks` says why)."),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics.",
                "operationId": "metrics",
                "responses": {
                    "200": {
                        "description": "Text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document.",
                "operationId": "openapi",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1.",
                        "content": {_JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "switchtower gateway",
            "version": "1",
            "description": "Routes each agent request to the cheapest tier that will succeed.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                **_schemas(models),
                **anthropic_schemas(models, _METADATA),
                **responses_schemas(models, _METADATA),
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }
