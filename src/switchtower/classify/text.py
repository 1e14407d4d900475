"""Input hygiene: every string becomes something the featurizers can read, never a crash.

The truncation rule (documented in ``docs/classifier.md``): after dropping control
characters and collapsing whitespace, a text longer than :data:`MAX_CHARS` keeps its first
:data:`HEAD_CHARS` and its last :data:`TAIL_CHARS` characters, joined by ``" ... "``.
Agent requests put the instruction either before a pasted document ("Summarize this:
...") or after it ("... What does this function do?"), so both ends are kept.

The instruction rule: a text longer than :data:`INSTRUCTION_MIN_CHARS` characters made of
several paragraphs (split at blank lines and code fences) is read with its first
paragraph (when at most :data:`FIRST_CHARS` long) and its last one (when at most
:data:`LAST_CHARS` long) :data:`INSTRUCTION_REPEATS` more times in front. An agent
request's instruction stands there ("tl;dr this pls" above a pasted article), and the
pasted content would otherwise outweigh it.

Text that is mostly not printable (binary pasted as text) is treated as empty.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "FIRST_CHARS",
    "HEAD_CHARS",
    "INSTRUCTION_MIN_CHARS",
    "INSTRUCTION_REPEATS",
    "LAST_CHARS",
    "MAX_CHARS",
    "TAIL_CHARS",
    "is_binary",
    "prepare_text",
    "text_rules",
]

MAX_CHARS = 2000
HEAD_CHARS = 1500
TAIL_CHARS = 500
#: the instruction rule applies to texts longer than this
INSTRUCTION_MIN_CHARS = 300
#: the longest first / last paragraph read again as the instruction
FIRST_CHARS = 300
LAST_CHARS = 200
#: how many more times the instruction is read: 3 is the smallest count at the best
#: accuracy on the first blind agent-request set (docs/classifier.md)
INSTRUCTION_REPEATS = 3
#: where a paragraph ends: a blank line or a code fence
_PARAGRAPH_END = re.compile(r"\n[^\S\n]*\n|```")

#: a text with more than this share of control/unassigned characters is binary
_BINARY_SHARE = 0.3


def text_rules() -> tuple[int | float, ...]:
    """The rules' constants: part of the classifier cache key, so that a change to any of
    them retrains instead of reusing a model trained on differently prepared text."""
    return (
        MAX_CHARS,
        HEAD_CHARS,
        TAIL_CHARS,
        INSTRUCTION_MIN_CHARS,
        FIRST_CHARS,
        LAST_CHARS,
        INSTRUCTION_REPEATS,
        _BINARY_SHARE,
    )


#: ASCII characters that are control characters but not whitespace (category Cc)
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")
#: byte tables built from that pattern: every other byte (deleted, leaving the control
#: characters to count) and each control byte -> space (replaced without a regex pass)
_NOT_CONTROL = bytes(b for b in range(256) if not _ASCII_CONTROL.fullmatch(chr(b)))
_CONTROL_TO_SPACE = bytes(32 if _ASCII_CONTROL.fullmatch(chr(b)) else b for b in range(256))


def is_binary(text: str) -> bool:
    """True when more than 30% of the (first 4,000) characters are not printable text."""
    sample = text[:4000]
    if not sample:
        return False
    if sample.isascii():  # the common case, without a Python loop over characters
        controls = sample.encode("ascii").translate(None, _NOT_CONTROL)
        return len(controls) / len(sample) > _BINARY_SHARE
    bad = sum(
        1
        for ch in sample
        if not ch.isspace() and unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn")
    )
    return bad / len(sample) > _BINARY_SHARE


def _instruction_first(text: str) -> str:
    """The instruction rule (module docstring): the short first and last paragraphs of a
    text of several paragraphs, repeated in front of it."""
    parts = [p for p in (s.strip() for s in _PARAGRAPH_END.split(text)) if p]
    if len(parts) < 2:
        return text
    again = [p for p, cap in ((parts[0], FIRST_CHARS), (parts[-1], LAST_CHARS)) if len(p) <= cap]
    return (" ".join(again) + "\n") * INSTRUCTION_REPEATS + text if again else text


def prepare_text(text: object) -> str:
    """Clean, whitespace-normalised and truncated text; ``""`` when there is nothing to read."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    # cut pathological inputs before scanning them character by character
    if len(text) > 4 * MAX_CHARS:
        text = text[: 2 * HEAD_CHARS] + " " + text[-2 * TAIL_CHARS :]
    if is_binary(text):
        return ""
    if len(text) > INSTRUCTION_MIN_CHARS:
        text = _instruction_first(text)
    if text.isascii():
        text = text.encode("ascii").translate(_CONTROL_TO_SPACE).decode("ascii")
    else:
        text = "".join(
            ch if ch.isspace() or unicodedata.category(ch)[0] != "C" else " " for ch in text
        )
    text = " ".join(text.split())  # str.split's whitespace is re's \s (str.isspace)
    if len(text) > MAX_CHARS:
        text = text[:HEAD_CHARS].rstrip() + " ... " + text[-TAIL_CHARS:].lstrip()
    return text
