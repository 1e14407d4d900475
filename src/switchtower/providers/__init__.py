"""Model providers: OpenAI-compatible endpoints, Anthropic Messages, embedded llama.cpp.

Each provider makes one upstream call per ``complete``/``stream`` and raises the
``Upstream*`` errors of :mod:`switchtower.errors`; retries and fallback live in
:mod:`switchtower.execute`, prices in :mod:`switchtower.pricing`.
"""

from __future__ import annotations

from switchtower.providers.anthropic_messages import AnthropicProvider
from switchtower.providers.llamacpp import LlamaCppProvider, default_model_path
from switchtower.providers.openai_compat import OpenAIProvider

__all__ = ["AnthropicProvider", "LlamaCppProvider", "OpenAIProvider", "default_model_path"]
