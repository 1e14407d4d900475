"""Prompt caching as the fakes' upstreams do it (a word is a token).

Anthropic (explicit): a block with ``cache_control`` marks a breakpoint; the prefix up
to it (tools, then system, then messages, in that order) is written to the cache the
first time and read from it afterwards. At most four breakpoints; the mark must be
``{"type": "ephemeral"}`` with an optional ``ttl`` of ``5m`` or ``1h``. The real API also
needs a minimum prefix length (1,024 tokens and more) and expires entries; the fake
caches any length and never expires.

OpenAI (automatic): a prompt of at least ``OPENAI_MIN_TOKENS`` reads from the cache the
longest run of whole leading messages an earlier request sent.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

__all__ = ["OPENAI_MIN_TOKENS", "AnthropicCache", "CacheError", "OpenAICache"]

OPENAI_MIN_TOKENS = 1024
_MAX_BREAKPOINTS = 4


class CacheError(ValueError):
    """A request the real API refuses (400) for its cache marks."""


def _words(block: Any) -> int:
    if isinstance(block, str):
        return len(block.split())
    if isinstance(block, dict):
        if isinstance(block.get("text"), str):
            return len(block["text"].split())
        if isinstance(block.get("content"), str):
            return len(block["content"].split())
    return 0


def _digest(blocks: list[Any]) -> str:
    plain = [
        {k: v for k, v in b.items() if k != "cache_control"} if isinstance(b, dict) else b
        for b in blocks
    ]
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()


def _blocks(body: dict[str, Any]) -> list[Any]:
    """The prompt as Anthropic's cache sees it: tools, system, then message blocks."""
    out: list[Any] = list(body.get("tools") or ())
    system = body.get("system")
    if isinstance(system, list):
        out.extend(system)
    elif system:
        out.append(system)
    for m in body.get("messages") or ():
        content = m.get("content")
        out.extend(content if isinstance(content, list) else [content])
    return out


class AnthropicCache:
    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def usage(self, body: dict[str, Any], prompt_tokens: int) -> dict[str, int]:
        """``input_tokens`` / ``cache_read_input_tokens`` / ``cache_creation_input_tokens``
        for a prompt of ``prompt_tokens`` words in all; raises :class:`CacheError`."""
        blocks = _blocks(body)
        marks = [i for i, b in enumerate(blocks) if isinstance(b, dict) and "cache_control" in b]
        if len(marks) > _MAX_BREAKPOINTS:
            raise CacheError(
                f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                f"Found {len(marks)}."
            )
        for i in marks:
            mark = blocks[i]["cache_control"]
            if (
                not isinstance(mark, dict)
                or mark.get("type") != "ephemeral"
                or mark.get("ttl", "5m") not in ("5m", "1h")
            ):
                raise CacheError(f"cache_control: invalid value {mark!r}")
        read = write = hour = 0
        with self._lock:
            hit = next((i for i in reversed(marks) if _digest(blocks[: i + 1]) in self._seen), -1)
            if hit >= 0:
                read = sum(_words(b) for b in blocks[: hit + 1])
            start = hit + 1
            for i in (m for m in marks if m > hit):  # each new segment, at its mark's ttl
                words = sum(_words(b) for b in blocks[start : i + 1])
                write += words
                hour += words if blocks[i]["cache_control"].get("ttl") == "1h" else 0
                start = i + 1
            for i in marks:
                self._seen.add(_digest(blocks[: i + 1]))
        read, write = min(read, prompt_tokens), min(write, prompt_tokens - min(read, prompt_tokens))
        return {
            "input_tokens": prompt_tokens - read - write,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write,
            "cache_creation": {
                "ephemeral_5m_input_tokens": write - min(hour, write),
                "ephemeral_1h_input_tokens": min(hour, write),
            },
        }


class OpenAICache:
    def __init__(self, min_tokens: int = OPENAI_MIN_TOKENS) -> None:
        self.min_tokens = min_tokens
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def cached_tokens(self, messages: list[dict[str, Any]], prompt_tokens: int) -> int:
        if prompt_tokens < self.min_tokens:
            return 0
        cached = 0
        with self._lock:
            for n in range(1, len(messages) + 1):
                key = _digest(messages[:n])
                if key in self._seen:
                    cached = sum(_words(m.get("content")) for m in messages[:n])
                self._seen.add(key)
        return min(cached, prompt_tokens)
