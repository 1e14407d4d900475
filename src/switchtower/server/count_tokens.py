"""``POST /v1/messages/count_tokens``: how many input tokens a message request holds.

Anthropic-SDK clients ask before sending (Claude Code asks before every turn, to decide
when to compact a long conversation), so a gateway at ``ANTHROPIC_BASE_URL`` must answer
it. A named model whose provider counts exactly (Anthropic's free ``count_tokens``) is
asked; otherwise (``auto``, OpenAI-compatible and local models, or the provider failing)
the gateway's offline estimate answers (routing's context-size estimate, plus images,
returned thinking and the tools' definitions).
The ``x-switchtower-token-count`` header says which: ``exact`` or ``estimate``.
"""

from __future__ import annotations

import logging
from typing import Any

from switchtower.errors import UnknownModelError, UpstreamError
from switchtower.pipeline import Pipeline
from switchtower.protocols import ModelInfo, TokenCounter
from switchtower.providers.common import json_bytes
from switchtower.server.anthropic_wire import parse_count_tokens
from switchtower.tokens import IMAGE_TOKENS, estimate_message_tokens, estimate_tokens
from switchtower.types import Request

__all__ = ["COUNT_HEADER", "IMAGE_TOKENS", "count_tokens", "estimate_request_tokens"]

COUNT_HEADER = "x-switchtower-token-count"
_log = logging.getLogger(__name__)


def estimate_request_tokens(request: Request) -> int:
    """The offline estimate: the messages (with per-message overhead), each image at
    :data:`IMAGE_TOKENS`, signed thinking given back, and the tools' definitions as JSON."""
    tools = request.params.get("tools")
    total = estimate_message_tokens(request.messages)
    total += estimate_tokens(json_bytes(tools).decode()) if tools else 0
    for m in request.messages:
        for block in m.get("thinking_blocks") or ():
            total += estimate_tokens(str(block.get("thinking") or block.get("data") or ""))
    return total


def _named(pipeline: Pipeline, name: str) -> ModelInfo | None:
    """The configured model ``name`` names: by its name, else by its upstream model id
    (Claude Code sends the provider's id, such as ``claude-sonnet-4-5``)."""
    try:
        return pipeline.model(name)
    except UnknownModelError:  # auto, auto:<operation>, or an upstream id
        pass
    return next(
        (
            m
            for tier in pipeline.tiers.values()
            for m in tier.models
            if m.model_id == name and m.available
        ),
        None,
    )


async def count_tokens(pipeline: Pipeline, body: Any) -> tuple[dict[str, int], dict[str, str]]:
    """The answer body and headers for a count request (400 on a malformed body)."""
    name, request = parse_count_tokens(body)
    info = _named(pipeline, name)
    provider = pipeline.providers.get(info.provider) if info is not None else None
    if info is not None and info.available and isinstance(provider, TokenCounter):
        try:
            exact = await provider.count_tokens(info, request)
        except UpstreamError as exc:  # counting is advice: an estimate beats an error
            _log.warning("count_tokens on %s failed, estimating instead: %s", name, exc)
        else:
            return {"input_tokens": exact}, {COUNT_HEADER: "exact"}
    return {"input_tokens": estimate_request_tokens(request)}, {COUNT_HEADER: "estimate"}
