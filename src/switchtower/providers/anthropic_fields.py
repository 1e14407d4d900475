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

__all__ = [
    "ANTHROPIC_BLOCK",
    "ANTHROPIC_PARAMS",
    "CARRIED_BLOCKS",
    "COUNT_TOKENS_FIELDS",
    "check_cache_control",
    "check_thinking",
    "check_thinking_block",
    "check_thinking_blocks",
    "for_openai",
    "has_anthropic_fields",
    "thinking_turn_ok",
    "tool_images_out",
]

#: a content part holding a block only Anthropic models read, whole (``{"type": ...,
#: "block": {...}}``): the blocks of :data:`CARRIED_BLOCKS`
ANTHROPIC_BLOCK = "anthropic_block"
CARRIED_BLOCKS = frozenset({"document", "search_result"})
#: request parameters only an Anthropic model takes
ANTHROPIC_PARAMS = frozenset({"thinking"})
#: the fields of a message request that Anthropic's ``count_tokens`` takes
COUNT_TOKENS_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking")
_MARK = "cache_control"
#: message keys only the Anthropic provider reads: an answer's signed thinking given back,
#: and a tool result's error flag (other models read the error in its text)
_MESSAGE_ONLY = frozenset({"thinking_blocks", "is_error"})


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


#: Anthropic's least thinking budget
MIN_THINKING_BUDGET = 1024


def check_thinking(thinking: object, max_tokens: int | None) -> dict[str, Any]:
    """The ``thinking`` parameter as the API takes it, else a 400 naming the field:
    ``enabled`` with an integer ``budget_tokens`` of at least 1024 (and below
    ``max_tokens`` when given), ``adaptive`` or ``disabled``. Other keys pass (newer
    API fields): the model refuses what it does not know."""
    if not isinstance(thinking, Mapping):
        raise InvalidRequestError("thinking: must be an object", field="thinking")
    kind = thinking.get("type")
    if kind not in ("enabled", "adaptive", "disabled"):
        raise InvalidRequestError(
            "thinking.type: must be enabled, adaptive or disabled", field="thinking.type"
        )
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
            raise InvalidRequestError(
                f"thinking.budget_tokens: must be an integer >= {MIN_THINKING_BUDGET}",
                field="thinking.budget_tokens",
            )
        if max_tokens is not None and budget >= max_tokens:
            raise InvalidRequestError(
                "thinking.budget_tokens: must be less than max_tokens",
                field="thinking.budget_tokens",
            )
    return dict(thinking)


def check_thinking_block(block: object, where: str) -> dict[str, Any]:
    """An earlier answer's signed thinking, kept verbatim (Anthropic wants it back
    before a tool result when thinking is on): a ``thinking`` block with its text and
    signature, or a ``redacted_thinking`` block with its data; else a 400 naming it."""
    kind = block.get("type") if isinstance(block, Mapping) else None
    need = {"thinking": ("thinking", "signature"), "redacted_thinking": ("data",)}.get(
        kind if isinstance(kind, str) else ""
    )
    if need is None or not isinstance(block, Mapping):
        raise InvalidRequestError(
            f"{where}.type: must be thinking or redacted_thinking", field=f"{where}.type"
        )
    for name in need:
        if not isinstance(block.get(name), str):
            raise InvalidRequestError(f"{where}.{name}: must be a string", field=f"{where}.{name}")
    return {"type": kind, **{name: block[name] for name in need}}


def check_thinking_blocks(blocks: object, where: str) -> list[dict[str, Any]]:
    """A list of :func:`check_thinking_block` blocks (``thinking_blocks`` on an
    OpenAI-format assistant message)."""
    if not isinstance(blocks, list):
        raise InvalidRequestError(f"{where}: must be an array", field=where)
    return [check_thinking_block(b, f"{where}[{i}]") for i, b in enumerate(blocks)]


def thinking_turn_ok(messages: Sequence[Mapping[str, Any]]) -> bool:
    """Whether an Anthropic request may turn thinking on: its final assistant turn, if
    it used a tool, starts with (signed) thinking. A turn another model answered has
    none, and thinking cannot be made up, so such a request goes without it."""
    last = next((m for m in reversed(messages) if m.get("role") == "assistant"), None)
    blocks = last.get("content") if last is not None else None
    if not isinstance(blocks, list) or not blocks:
        return True
    used_tool = any(isinstance(b, Mapping) and b.get("type") == "tool_use" for b in blocks)
    first = blocks[0].get("type") if isinstance(blocks[0], Mapping) else None
    return not used_tool or first in ("thinking", "redacted_thinking")


def _unmarked(item: Any) -> Any:
    if isinstance(item, Mapping) and _MARK in item:
        return {k: v for k, v in item.items() if k != _MARK}
    return item


def _unthought(m: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(m, Mapping) or not _MESSAGE_ONLY.intersection(m):
        return m
    return {k: v for k, v in m.items() if k not in _MESSAGE_ONLY}


def _message(m: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(m, Mapping):
        return m
    out: dict[str, Any] = {k: v for k, v in m.items() if k != _MARK and k not in _MESSAGE_ONLY}
    content = out.get("content")
    if isinstance(content, list):
        parts = [_unmarked(p) for p in content]
        texts = [p["text"] for p in parts if isinstance(p, Mapping) and p.get("type") == "text"]
        plain = len(texts) == len(parts) and all(isinstance(t, str) for t in texts)
        # a list only to carry marks: the plain string these roles always take
        out["content"] = "\n".join(texts) if plain and out.get("role") != "user" else parts
    if isinstance(out.get("tool_calls"), list):
        out["tool_calls"] = [_unmarked(c) for c in out["tool_calls"]]
    return out


def _only_thinking(m: object) -> bool:
    """An assistant turn that held nothing but thinking (an answer cut off while
    thinking): nothing of it is left for other models."""
    return (
        isinstance(m, Mapping)
        and m.get("role") == "assistant"
        and bool(m.get("thinking_blocks"))
        and not m.get("content")
        and not m.get("tool_calls")
    )


def has_anthropic_fields(body: Mapping[str, Any]) -> bool:
    """Whether :func:`for_openai` would change ``body``: a look at where the fields live
    (message keys, content parts, tool calls, tools), no serialising; text that merely
    mentions a name does not count."""
    for m in body.get("messages") or ():
        if not isinstance(m, Mapping):
            continue
        if _MARK in m or _MESSAGE_ONLY.intersection(m):
            return True
        for key in ("content", "tool_calls"):
            items = m.get(key)
            if isinstance(items, list) and any(
                isinstance(x, Mapping) and _MARK in x for x in items
            ):
                return True
    tools = body.get("tools")
    return isinstance(tools, list) and any(isinstance(t, Mapping) and _MARK in t for t in tools)


def for_openai(body: Mapping[str, Any], *, keep_cache_control: bool = False) -> dict[str, Any]:
    """``body`` for an OpenAI-compatible upstream: no signed thinking, and no cache marks
    unless ``keep_cache_control`` (an upstream that passes them on to Anthropic)."""
    out = dict(body)
    messages = out.get("messages")
    if isinstance(messages, Sequence) and not isinstance(messages, str):
        clean = _unthought if keep_cache_control else _message
        out["messages"] = [clean(m) for m in messages if not _only_thinking(m)]
    if not keep_cache_control and isinstance(out.get("tools"), list):
        out["tools"] = [_unmarked(t) for t in out["tools"]]
    return out


def tool_images_out(
    messages: Sequence[Mapping[str, Any]], *, files: bool = False
) -> Sequence[Mapping[str, Any]]:
    """``messages`` as OpenAI-compatible servers take them. Images in a tool result (an
    Anthropic ``tool_result`` may hold screenshots) move to the user turn right after that
    run of tool messages (a new one when none follows), since only user turns may hold
    images there, and the tool message keeps its text as a string. A block only Anthropic
    models read becomes text: a document's own text (a plain-text or content document, a
    search result), else a line saying a PDF was there; with ``files`` (OpenAI's own API,
    which reads PDFs) a PDF becomes a ``file`` part instead, moved out of tool results
    like an image."""
    if not any(_needs_rework(m) for m in messages):
        return messages
    out: list[Mapping[str, Any]] = []
    held: list[Any] = []
    for m in messages:
        content = m.get("content")
        if m.get("role") == "tool" and isinstance(content, list):
            moved = [p for p in content if _is_image(p) or (files and _is_file(p))]
            held += [_as_file(p) for p in moved]
            if _needs_rework(m):
                texts = [_text(p) for p in content if not any(p is x for x in moved)]
                text = "\n".join(t for t in texts if t) or "(the tool returned images: below)"
                m = {**m, "content": text}  # noqa: PLW2901 - the reworked message
            out.append(m)
            continue
        if isinstance(content, list) and any(_is_carried(p) for p in content):
            convert = _as_file if files else _as_text
            m = {**m, "content": [convert(p) for p in content]}  # noqa: PLW2901
        if held:
            out.append(_with_images(m if m.get("role") == "user" else None, held))
            held = []
            if m.get("role") == "user":
                continue
        out.append(m)
    if held:
        out.append(_with_images(None, held))
    return out


def _needs_rework(m: Mapping[str, Any]) -> bool:
    content = m.get("content")
    if not isinstance(content, list):
        return False
    if any(_is_carried(p) for p in content):
        return True
    return m.get("role") == "tool" and any(_is_image(p) or _is_openai_file(p) for p in content)


def _is_openai_file(part: object) -> bool:
    return isinstance(part, Mapping) and part.get("type") == "file"


def _is_file(part: object) -> bool:
    """A PDF OpenAI's API reads: its own ``file`` part, or a base64 document block."""
    return _is_openai_file(part) or _pdf(part) is not None


def _is_carried(part: object) -> bool:
    return isinstance(part, Mapping) and part.get("type") == ANTHROPIC_BLOCK


def _as_text(part: Any) -> Any:
    return {"type": "text", "text": _text(part)} if _is_carried(part) else part


def _pdf(part: Any) -> tuple[str, str] | None:
    """``(data URL, file name)`` of a carried base64 PDF document, else None."""
    if not _is_carried(part):
        return None
    block = part["block"]
    source = block.get("source")
    if block.get("type") != "document" or not isinstance(source, Mapping):
        return None
    if source.get("type") != "base64" or not isinstance(source.get("data"), str):
        return None
    media = str(source.get("media_type") or "application/pdf")
    name = str(block.get("title") or "document.pdf")
    return f"data:{media};base64,{source['data']}", name


def _as_file(part: Any) -> Any:
    """A base64 PDF document as OpenAI's ``file`` part; anything else as :func:`_as_text`."""
    pdf = _pdf(part)
    if pdf is None:
        return _as_text(part)
    return {"type": "file", "file": {"file_data": pdf[0], "filename": pdf[1]}}


def _block_text(block: Mapping[str, Any]) -> str | None:
    """A document's or search result's own text, when it has one."""
    source = block.get("source")
    title = block.get("title")
    texts: list[str] = []
    if block.get("type") == "search_result":
        parts = block.get("content")
        listed = parts if isinstance(parts, list) else []
        texts = [str(c.get("text", "")) for c in listed if isinstance(c, Mapping)]
        head = " ".join(str(x) for x in (title, source) if isinstance(x, str) and x)
        return "\n".join([f"[search result: {head}]", *texts]) if texts else None
    if isinstance(source, Mapping) and source.get("type") == "text":
        data = source.get("data")
        texts = [data] if isinstance(data, str) and data else []
    elif isinstance(source, Mapping) and source.get("type") == "content":
        inner = source.get("content")
        if isinstance(inner, str):
            texts = [inner]
        elif isinstance(inner, list):
            texts = [str(c.get("text", "")) for c in inner if isinstance(c, Mapping)]
    if not texts:
        return None
    head = f"[document: {title}]" if isinstance(title, str) and title else "[document]"
    return "\n".join([head, *texts])


def _text(part: Any) -> str:
    if _is_carried(part):
        block = part["block"]
        own = _block_text(block)
        if own is not None:
            return own
        kind = block.get("type", "document")
        return f"[a {kind} block was here: only models that read documents read it]"
    if _is_openai_file(part):
        return "[a file was here: only models that read documents read it]"
    return str(part.get("text", "")) if isinstance(part, Mapping) else ""


def _is_image(part: object) -> bool:
    return isinstance(part, Mapping) and part.get("type") == "image_url"


def _with_images(user: Mapping[str, Any] | None, images: list[Any]) -> Mapping[str, Any]:
    note = {"type": "text", "text": "(the images the tool results above returned)"}
    if user is None:
        return {"role": "user", "content": [note, *images]}
    content = user.get("content")
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or ())
    return {**user, "content": [note, *images, *parts]}
