"""Register the built-in providers exactly as a third-party plugin would."""

from __future__ import annotations

from switchtower.providers.anthropic_messages import AnthropicProvider
from switchtower.providers.llamacpp import LlamaCppProvider
from switchtower.providers.openai_compat import OpenAIProvider
from switchtower.registries import providers

providers.add("openai", OpenAIProvider)
providers.add("anthropic", AnthropicProvider)
providers.add("llamacpp", LlamaCppProvider)
