"""The function tool the tests offer models, in the OpenAI form (``get_weather(city)``)."""

from __future__ import annotations

from typing import Any

__all__ = ["WEATHER_PARAMETERS", "WEATHER_TOOL"]

WEATHER_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": WEATHER_PARAMETERS,
    },
}
