"""Extended thinking as the Anthropic API checks it: a thinking block's signature must be
the one issued with it (altered or invented thinking is refused), and with thinking on,
an assistant turn that used a tool must start with its thinking."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

__all__ = ["sign", "thinking_on", "thinking_problem"]

_KEY = b"fake-anthropic-thinking"


def sign(thinking: str) -> str:
    return hmac.new(_KEY, thinking.encode(), hashlib.sha256).hexdigest()


def thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def thinking_problem(body: dict[str, Any]) -> str | None:
    """What the real API would refuse about the thinking in ``body`` (None: fine)."""
    thinking = body.get("thinking")
    if thinking is not None and (
        not isinstance(thinking, dict)
        or thinking.get("type") not in ("enabled", "disabled", "adaptive")
    ):
        return "thinking: type must be enabled, disabled or adaptive"
    if thinking_on(body) and thinking.get("type") == "enabled":  # type: ignore[union-attr]
        budget = thinking.get("budget_tokens")  # type: ignore[union-attr]
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if budget >= int(body.get("max_tokens", 0)):
            return "`max_tokens` must be greater than `thinking.budget_tokens`"
    if thinking_on(body) and (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    assistants = [(i, m) for i, m in enumerate(body["messages"]) if m.get("role") == "assistant"]
    for i, m in assistants:
        for j, block in enumerate(m["content"] if isinstance(m["content"], list) else ()):
            if block.get("type") == "thinking" and block.get("signature") != sign(
                str(block.get("thinking", ""))
            ):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    if thinking_on(body) and assistants:
        i, last = assistants[-1]
        blocks = last["content"] if isinstance(last["content"], list) else []
        used_tool = any(b.get("type") == "tool_use" for b in blocks)
        if used_tool and blocks[0].get("type") not in ("thinking", "redacted_thinking"):
            return (
                f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                f"but found `{blocks[0].get('type')}`. When `thinking` is enabled, a final "
                "`assistant` message must start with a thinking block"
            )
    return None
