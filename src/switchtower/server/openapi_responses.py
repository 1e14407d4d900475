"""The Responses API parts of the OpenAPI document: the ``/v1/responses`` body and its
answer (``server/responses_wire.py``)."""

from __future__ import annotations

from typing import Any

__all__ = ["responses_schemas"]

_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"type": "string", "enum": ["input_text", "output_text"]},
        "text": {"type": "string"},
    },
}
_IMAGE_PART = {
    "type": "object",
    "required": ["type", "image_url"],
    "properties": {
        "type": {"type": "string", "enum": ["input_image"]},
        "image_url": {"type": "string", "minLength": 1},
        "detail": {"type": "string", "enum": ["low", "high", "auto"]},
    },
}
_FILE_PART = {
    "type": "object",
    "required": ["type", "file_data"],
    "properties": {
        "type": {"type": "string", "enum": ["input_file"]},
        "file_data": {"type": "string", "pattern": "^data:"},
        "filename": {"type": "string"},
    },
}
_REFUSAL_PART = {
    "type": "object",
    "required": ["type", "refusal"],
    "properties": {
        "type": {"type": "string", "enum": ["refusal"]},
        "refusal": {"type": "string"},
    },
}
_CONTENT = {
    "anyOf": [
        {"type": "string"},
        {
            "type": "array",
            "items": {"anyOf": [_TEXT_PART, _IMAGE_PART, _FILE_PART, _REFUSAL_PART]},
        },
    ]
}
_ITEM = {
    "anyOf": [
        {
            "type": "object",
            "description": "A message (``type: message`` may be left out).",
            "required": ["role", "content"],
            "properties": {
                "type": {"type": "string", "enum": ["message"]},
                "role": {"type": "string", "enum": ["user", "assistant", "system", "developer"]},
                "content": _CONTENT,
            },
        },
        {
            "type": "object",
            "description": "A function call the model made, given back.",
            "required": ["type", "call_id", "name", "arguments"],
            "properties": {
                "type": {"type": "string", "enum": ["function_call"]},
                "call_id": {"type": "string"},
                "name": {"type": "string"},
                "arguments": {"type": "string"},
            },
        },
        {
            "type": "object",
            "description": "What a function call returned.",
            "required": ["type", "call_id", "output"],
            "properties": {
                "type": {"type": "string", "enum": ["function_call_output"]},
                "call_id": {"type": "string"},
                "output": _CONTENT,
            },
        },
    ]
}
_TOOL = {
    "type": "object",
    "description": "A function tool (hosted tools run inside OpenAI: refused).",
    "required": ["type", "name"],
    "properties": {
        "type": {"type": "string", "enum": ["function"]},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "parameters": {"type": "object"},
        "strict": {"type": "boolean"},
    },
}
_TOOL_CHOICE = {
    "anyOf": [
        {"type": "string", "enum": ["auto", "none", "required"]},
        {
            "type": "object",
            "required": ["type", "name"],
            "properties": {
                "type": {"type": "string", "enum": ["function"]},
                "name": {"type": "string"},
            },
        },
    ]
}
_FORMAT = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": ["text", "json_object", "json_schema"]},
        "name": {"type": "string"},
        "schema": {"type": "object"},
        "strict": {"type": "boolean"},
    },
}


def responses_schemas(models: list[str], metadata: dict[str, Any]) -> dict[str, Any]:
    """``ResponsesRequest`` and ``Response``; ``models`` is the ``model`` enum,
    ``metadata`` the routing hints."""
    return {
        "ResponsesRequest": {
            "type": "object",
            "required": ["model", "input"],
            "additionalProperties": False,
            "properties": {
                "model": {"type": "string", "enum": models},
                "input": {
                    "anyOf": [
                        {"type": "string", "minLength": 1},
                        {"type": "array", "minItems": 1, "items": _ITEM},
                    ]
                },
                "instructions": {"type": "string"},
                "tools": {"type": "array", "items": _TOOL},
                "tool_choice": _TOOL_CHOICE,
                "max_output_tokens": {"type": "integer", "minimum": 1},
                "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                "top_p": {"type": "number", "minimum": 0, "maximum": 1},
                "parallel_tool_calls": {"type": "boolean"},
                "text": {
                    "type": "object",
                    "properties": {"format": _FORMAT, "verbosity": {"type": "string"}},
                },
                "reasoning": {"type": "object", "properties": {"effort": {"type": "string"}}},
                "metadata": metadata,
                "stream": {"type": "boolean"},
                "store": {"type": "boolean", "description": "Accepted; nothing is stored."},
                "include": {"type": "array", "items": {"type": "string"}},
                "truncation": {"type": "string"},
                "user": {"type": "string"},
                "safety_identifier": {"type": "string"},
                "prompt_cache_key": {"type": "string"},
                "prompt_cache_retention": {"type": "string"},
                "prompt_cache_options": {"type": "object"},
                "service_tier": {"type": "string"},
                "top_logprobs": {"type": "integer", "minimum": 0, "maximum": 20},
                "stream_options": {"type": "object"},
                "background": {
                    "type": "boolean",
                    "enum": [False],
                    "description": "The gateway answers now (true is a 400).",
                },
                "max_tool_calls": {"type": "integer", "description": "Accepted; no effect."},
                "context_management": {
                    "type": "array",
                    "description": "Accepted; no effect.",
                    "items": {"type": "object"},
                },
            },
        },
        "Response": {
            "type": "object",
            "required": ["id", "object", "created_at", "status", "model", "output", "usage"],
            "properties": {
                "id": {"type": "string"},
                "object": {"type": "string", "enum": ["response"]},
                "created_at": {"type": "integer"},
                "status": {"type": "string", "enum": ["completed", "incomplete"]},
                "model": {"type": "string"},
                "output": {"type": "array", "items": {"type": "object"}},
                "usage": {
                    "type": "object",
                    "required": ["input_tokens", "output_tokens", "total_tokens"],
                    "properties": {
                        "input_tokens": {"type": "integer", "minimum": 0},
                        "output_tokens": {"type": "integer", "minimum": 0},
                        "total_tokens": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
    }
