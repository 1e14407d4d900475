"""What only Anthropic models take, inside the internal (OpenAI-format) request.

Clients on either wire may mark prompt-cache breakpoints (``cache_control``) on content
parts, tools and tool results, and ``/v1/messages`` clients give back an earlier
answer's signed thinking (``thinking_blocks`` on an assistant message) and ask for
thinking (the ``thinking`` parameter). The Anthropic provider passes all of it on; for
OpenAI-compatible upstreams :func:`for_openai` leaves it out, only where it can be (a
tool parameter that happens to be called ``cache_control`` is the client's schema), and
moves images out of tool results, where OpenAI takes none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from switchtower.errors import InvalidRequestError

__all__ = ["ANTHROPIC_PARAMS", "check_cache_control", "for_openai", "tool_images_out"]

#: request parameters only an Anthropic model takes
ANTHROPIC_PARAMS = frozenset({"thinking"})
_MARK = "cache_control"


def check_cache_control(mark: object, where: str) -> dict[str, Any]:
    """A breakpoint as the API takes it (``{"type": "ephemeral"}``, optional ``ttl`` of
    ``5m`` or ``1h``), else a 400 naming ``where``."""
    if (
        not isinstance(mark, Mapping)
        or mark.get("type") != "ephemeral"
        or not set(mark) <= {"type", "ttl"}
        or mark.get("ttl", "5m") not in ("5m", "1h")
    ):
        raise InvalidRequestError(
            f"{where}: must be {{'type': 'ephemeral'}} with ttl '5m' or '1h'", field=where
        )
    return dict(mark)


def _unmarked(item: Any) -> Any:
    if isinstance(item, Mapping) and _MARK in item:
        return {k: v for k, v in item.items() if k != _MARK}
    return item


def _message(m: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(m, Mapping):
        return m
    out = {k: v for k, v in m.items() if k not in (_MARK, "thinking_blocks")}
    content = out.get("content")
    if isinstance(content, list):
        parts = [_unmarked(p) for p in content]
        texts = [p.get("text") for p in parts if isinstance(p, Mapping) and p.get("type") == "text"]
        if (
            out.get("role") != "user"
            and len(texts) == len(parts)
            and all(isinstance(t, str) for t in texts)
        ):  # a list only to carry marks: the plain string these roles always take
            out["content"] = "\n".join(texts)  # type: ignore[arg-type]
        else:
            out["content"] = parts
    if isinstance(out.get("tool_calls"), list):
        out["tool_calls"] = [_unmarked(c) for c in out["tool_calls"]]
    return out


def for_openai(body: Mapping[str, Any], *, keep_cache_control: bool = False) -> dict[str, Any]:
    """``body`` for an OpenAI-compatible upstream: no signed thinking, and no cache marks
    unless ``keep_cache_control`` (an upstream that passes them on to Anthropic)."""
    out = dict(body)
    messages = out.get("messages")
    if isinstance(messages, Sequence) and not isinstance(messages, str):
        if keep_cache_control:
            out["messages"] = [
                {k: v for k, v in m.items() if k != "thinking_blocks"}
                if isinstance(m, Mapping)
                else m
                for m in messages
            ]
        else:
            out["messages"] = [_message(m) for m in messages]
    if not keep_cache_control and isinstance(out.get("tools"), list):
        out["tools"] = [_unmarked(t) for t in out["tools"]]
    return out


def tool_images_out(messages: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """``messages`` as OpenAI-compatible servers take them: images in a tool result (an
    Anthropic ``tool_result`` may hold screenshots) move into a user message right after
    that run of tool messages, since only user turns may hold images there."""
    if not any(m.get("role") == "tool" and isinstance(m.get("content"), list) for m in messages):
        return messages
    out: list[Mapping[str, Any]] = []
    held: list[Any] = []
    for m in messages:
        content = m.get("content")
        if m.get("role") == "tool" and isinstance(content, list):
            images = [p for p in content if _is_image(p)]
            out.append({**m, "content": [p for p in content if not _is_image(p)]} if images else m)
            held += images
            continue
        if held:
            out.append(_images_message(held))
            held = []
        out.append(m)
    if held:
        out.append(_images_message(held))
    return out


def _is_image(part: object) -> bool:
    return isinstance(part, Mapping) and part.get("type") == "image_url"


def _images_message(images: list[Any]) -> dict[str, Any]:
    note = {"type": "text", "text": "(the images the tool results above returned)"}
    return {"role": "user", "content": [note, *images]}
