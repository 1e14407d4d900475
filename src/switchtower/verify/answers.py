"""Final answers of short-answer responses, and whether two responses agree.

A second opinion is only worth asking where two answers can be compared without a
model. :func:`final_answer` finds the answer a response commits to, in this order:

0. a JSON object or array (the whole response, or one fenced code block that is the
   whole response), as structured extraction answers: keys and string values are
   normalised as below, then the value is compared as canonical JSON (key order does
   not matter, list order does);
1. an explicit marker: ``#### 18`` (GSM8K style), ``\\boxed{18}``, or a line or sentence
   that says ``answer: ...`` / ``the answer is ...`` / ``final answer ...``;
2. a short response (at most :data:`SHORT_CHARS` characters after normalisation)
   without digits, or one that starts with a choice letter: the whole of it, a choice
   (``"D"``, ``"(d)"``, ``"D) palms"``) reduced to the letter;
3. the last number in the response's last line (``"... so she makes $18 every day."``);
4. a short response with digits and no number in its last line: the whole of it.

Anything else (an essay, code, a list) has no final answer: ``None``, and
:func:`agreement` answers ``None`` (no verdict) rather than guess. Normalisation:
case, surrounding punctuation and whitespace; numbers lose thousands separators, a
leading ``$`` and trailing zeros after the point (``1,000.50`` -> ``1000.5``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["CONTAINED_WORDS", "SHORT_CHARS", "agreement", "final_answer"]

#: responses at most this long (normalised) are compared whole
SHORT_CHARS = 40
#: the longest answer (in words) that agrees with a short sentence holding it
CONTAINED_WORDS = 4

_MARKER = re.compile(r"####\s*(?P<a>[^\n]+)")
_BOXED = re.compile(r"\\boxed\{(?P<a>[^{}]+)\}")
_SAYS = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*(?:\*\*)?(?P<a>[^\n]{1,80})",
    re.IGNORECASE,
)
_CHOICE = re.compile(r"^\(?(?P<a>[A-Ha-h])(?:\)|\.|:|\s*$|\s+-|\)?\s)")
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")
_FENCE = re.compile(r"^```[a-zA-Z]*[^\S\n]*\n(?P<a>.*?)\n?```$", re.DOTALL)
_SPACE = re.compile(r"\s+")
_TRIM = " \t\r\n.,;:!?*\"'`()[]{}"


def _number(text: str) -> str | None:
    """``text`` as a canonical number when it is one (``$1,000.50`` -> ``1000.5``)."""
    raw = text.strip(_TRIM).replace("$", "").replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    out = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if out == "-0" else out


def _normalise(answer: str) -> str | None:
    text = _SPACE.sub(" ", answer).strip(_TRIM).lower()
    if not text:
        return None
    number = _number(text)
    if number is not None:
        return number
    choice = _CHOICE.match(text)
    if choice is not None:
        return choice.group("a")
    first = _NUMBER.match(text)  # "18 dollars", "$18 per day"
    if first is not None and first.end() < len(text) and text[first.end()] == " ":
        return _number(first.group(0))
    return text


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).strip().lower(): _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, str):
        return _normalise(value) or ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number(repr(value))
    return value  # true, false, null


def _json_answer(body: str) -> str | None:
    fenced = _FENCE.match(body)
    raw = fenced.group("a").strip() if fenced else body
    if not raw or raw[0] not in "{[":
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict | list):
        return None
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def final_answer(text: str) -> str | None:
    """The answer ``text`` commits to, normalised, or ``None`` when it has none."""
    body = text.strip()
    if not body:
        return None
    structured = _json_answer(body)
    if structured is not None:
        return structured
    for pattern in (_MARKER, _BOXED):
        found = pattern.findall(body)
        if found:
            return _normalise(found[-1])
    said = list(_SAYS.finditer(body))
    if said:
        answer = said[-1].group("a")
        return _normalise(re.split(r"(?<=[a-z0-9)])\.\s", answer, maxsplit=1)[0])
    short = _SPACE.sub(" ", body).strip(_TRIM)
    if len(short) <= SHORT_CHARS:
        whole = _normalise(short)
        if whole is None or _CHOICE.match(short) or not any(ch.isdigit() for ch in whole):
            return whole
    numbers = _NUMBER.findall(body.splitlines()[-1])
    if numbers:
        return _number(numbers[-1])
    return _normalise(short) if len(short) <= SHORT_CHARS else None


def _words(answer: str) -> list[str]:
    return re.findall(r"\w+", answer)


def _contains(short: str, longer: str) -> bool:
    """``short`` (two to :data:`CONTAINED_WORDS` words of text, not one letter or a
    number) stands as whole words in ``longer``: "paris" in "the capital is paris"."""
    words, within = _words(short), _words(longer)
    if not 1 <= len(words) <= CONTAINED_WORDS or len(words) >= len(within):
        return False
    if len(words) == 1 and (len(words[0]) < 2 or _number(words[0]) is not None):
        return False
    n = len(words)
    return any(within[i : i + n] == words for i in range(len(within) - n + 1))


def agreement(first: str, second: str) -> bool | None:
    """Whether two responses give the same final answer; ``None`` when either has none.

    Besides equal final answers, a short answer agrees with a short sentence that holds
    it as whole words ("Paris" and "The capital is Paris."), so that wording alone does
    not count as a disagreement. Choice letters and numbers must be equal."""
    a, b = final_answer(first), final_answer(second)
    if a is None or b is None:
        return None
    if a == b:
        return True
    return _contains(a, b) or _contains(b, a)
