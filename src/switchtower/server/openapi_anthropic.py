"""The Anthropic-shaped parts of the OpenAPI document: ``/v1/messages`` bodies and
answers, Anthropic-style errors, and ``/v1/messages/count_tokens``."""

from __future__ import annotations

from typing import Any

__all__ = ["anthropic_schemas", "count_tokens_path"]

_JSON = "application/json"
_CACHE_CONTROL = {
    "type": "object",
    "description": "A prompt-cache breakpoint, passed to Anthropic models.",
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": ["ephemeral"]},
        "ttl": {"type": "string", "enum": ["5m", "1h"]},
    },
    "additionalProperties": False,
}
_BLOCK = {
    "type": "object",
    "description": "A content block: text, image, tool_use, tool_result, thinking or "
    "redacted_thinking, as the Anthropic Messages API defines them.",
    "required": ["type"],
    "properties": {
        "type": {
            "type": "string",
            "enum": ["text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking"],
        },
        "text": {"type": "string"},
        "cache_control": _CACHE_CONTROL,
    },
}
_TEXT_BLOCK = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"type": "string", "enum": ["text"]},
        "text": {"type": "string"},
        "cache_control": _CACHE_CONTROL,
    },
}
_PROMPT: dict[str, Any] = {
    "messages": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["role", "content"],
            "properties": {
                "role": {"type": "string", "enum": ["user", "assistant"]},
                "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _BLOCK}]},
            },
        },
    },
    "system": {"anyOf": [{"type": "string"}, {"type": "array", "items": _TEXT_BLOCK}]},
    "tools": {"type": "array", "items": {"type": "object"}},
    "tool_choice": {"type": "object"},
    "thinking": {
        "type": "object",
        "description": "Extended thinking, passed to Anthropic models (others leave it out).",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": ["enabled", "adaptive", "disabled"]},
            "budget_tokens": {"type": "integer", "minimum": 1024},
        },
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def anthropic_schemas(models: list[str], metadata: dict[str, Any]) -> dict[str, Any]:
    """``MessagesRequest``, ``Message``, ``AnthropicError``, ``CountTokensRequest`` and
    ``TokenCount``; ``models`` is the ``model`` enum, ``metadata`` the routing hints."""
    model = {"type": "string", "enum": models}
    return {
        "MessagesRequest": {
            "type": "object",
            "required": ["model", "messages", "max_tokens"],
            "additionalProperties": False,
            "properties": {
                "model": model,
                "max_tokens": {"type": "integer", "minimum": 1},
                **_PROMPT,
                "metadata": metadata,
                "stop_sequences": {"type": "array", "items": {"type": "string"}},
                "stream": {"type": "boolean"},
                "temperature": {"type": "number", "minimum": 0, "maximum": 1},
                "top_p": {"type": "number", "minimum": 0, "maximum": 1},
                "top_k": {"type": "integer", "minimum": 0},
                "service_tier": {"type": "string"},
            },
        },
        "Message": {
            "type": "object",
            "required": ["id", "type", "role", "model", "content", "stop_reason", "usage"],
            "properties": {
                "id": {"type": "string"},
                "type": {"type": "string", "enum": ["message"]},
                "role": {"type": "string", "enum": ["assistant"]},
                "model": {"type": "string"},
                "content": {"type": "array", "items": {"type": "object"}},
                "stop_reason": {"type": ["string", "null"]},
                "usage": {"type": "object"},
            },
        },
        "AnthropicError": {
            "type": "object",
            "required": ["type", "error"],
            "properties": {
                "type": {"type": "string", "enum": ["error"]},
                "error": {
                    "type": "object",
                    "required": ["type", "message"],
                    "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
        "CountTokensRequest": {
            "type": "object",
            "required": ["model", "messages"],
            "additionalProperties": False,
            "properties": {"model": {"type": "string"}, **_PROMPT},
        },
        "TokenCount": {
            "type": "object",
            "required": ["input_tokens"],
            "properties": {"input_tokens": {"type": "integer", "minimum": 0}},
        },
    }


def count_tokens_path(
    security: list[dict[str, list[str]]], errors: dict[str, Any]
) -> dict[str, Any]:
    return {
        "post": {
            "summary": "Input tokens of a message request (Claude Code asks before each turn): "
            "exact from an Anthropic model's own counter, else the offline estimate.",
            "operationId": "countTokens",
            "requestBody": {
                "required": True,
                "content": {_JSON: {"schema": _ref("CountTokensRequest")}},
            },
            "security": security,
            "responses": {
                "200": {
                    "description": "The count.",
                    "headers": {
                        "x-switchtower-token-count": {
                            "description": "`exact` (the model's provider counted) or "
                            "`estimate` (the gateway's offline estimate).",
                            "schema": {"type": "string", "enum": ["exact", "estimate"]},
                        }
                    },
                    "content": {_JSON: {"schema": _ref("TokenCount")}},
                },
                **errors,
            },
        }
    }
