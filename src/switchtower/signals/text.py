"""Text preparation shared by the signal detectors: capping, code/prose split, clauses.

Every detector reads the same :class:`Prose` view of a request: prose outside code
blocks, lower-cased, split into clauses, and each clause tagged with a *mode*:

``act``      an instruction or statement of work ("delete the old rows", "we need to ...")
``explain``  a question or a request for explanation / documentation / a draft
             ("how does X work", "explain ...", "write a tutorial on ...", "draft ...")
``hypo``     a hypothetical ("what would happen if ...", "suppose we ...")

Huge inputs are capped: only the first :data:`HEAD_CHARS` and the last
:data:`TAIL_CHARS` characters are scanned (requests put instructions at the start and
at the end; the middle of a huge prompt is usually pasted material).
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache
from typing import Literal

from switchtower.signals.prefilter import occurrences, required_prefixes, scan_at

__all__ = [
    "HEAD_CHARS",
    "TAIL_CHARS",
    "Mode",
    "Prose",
    "cap",
    "clean",
    "prose_view",
    "snippet",
    "split_code",
]

HEAD_CHARS = 4_000
TAIL_CHARS = 1_500

Mode = Literal["act", "explain", "hypo"]

_FENCE = re.compile(r"(```|~~~).*?(?:\1|\Z)", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")
_CLAUSE_END = re.compile(
    r"(?:[!?;]+|(?<!\.)\.(?!\.))(?=\s|$)|\n+|\s(?:but|however|then|and then|after that)\s"
)
_POLITE = (
    r"(?:(?:hey|hi|ok|okay|so|now|also|and|but|then|please|pls|kindly|quick question)[,:]?\s+)*"
)
_ASK = r"(?:(?:can|could|would|will) you\s+(?:please\s+)?|i(?:'d| would) like you to\s+)?"
_EXPLAIN_LEAD = re.compile(
    r"^\W*" + _POLITE + _ASK + r"(?:explain|describe|summari[sz]e|tell me|walk me through|"
    r"what(?:'s| is| are| was| were| does| do| did| happens)?\b|why|when|where|which|who|"
    r"how (?:does|do|did|is|are|was|would|could|can|should|come|many|much|to)\b|"
    r"is (?:it|there|this|that)\b|are (?:there|these|those|we)\b|does\b|do (?:we|i|you)\b|"
    r"define|compare|help me understand|teach|outline|recap|list|show(?: me)?|display|print|"
    r"(?:write|draft|create|prepare|give me|produce|make)\s+(?:me\s+)?(?:a |an |the |some )?"
    r"(?:[\w-]+\s+){0,3}(?:doc|docs|documentation|tutorial|blog|article|guide|explanation|"
    r"summary|overview|faq|readme|post|slides?|quiz|lesson|comparison|diagram|"
    r"changelog entry|release notes?|draft|proposal|outline|poem|haiku|limerick|story|song|"
    r"joke|essay|cover letter|bio|flashcards?|flashcard set|presentation|talk|template|"
    r"mockup|copy)\b|draft\b)"
)
_HYPO = re.compile(
    r"\b(?:what (?:would|will|could|might) happen|hypothetical(?:ly)?|in theory|"
    r"suppose|imagine|if we were to|if i were to|would it be (?:safe|possible|bad|ok)|"
    r"what if|is it (?:safe|possible|ok|okay) to|should (?:we|i)\b)"
)


_HYPO_PREFIXES = required_prefixes(_HYPO)


class Prose:
    """Lower-cased prose of a request with clause boundaries and per-clause modes.

    A clause's mode is worked out the first time a detector asks for it (most clauses of
    a long request hold no hit, so most are never tagged); ``modes`` tags them all.
    """

    __slots__ = ("_hypo_possible", "_modes", "starts", "text")

    def __init__(self, text: str, starts: tuple[int, ...], *, hypo_possible: bool = True) -> None:
        self.text = text
        self.starts = starts
        self._hypo_possible = hypo_possible
        self._modes: list[Mode | None] = [None] * len(starts)

    def clause_of(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self.starts, pos) - 1)

    def _mode_of(self, i: int) -> Mode:
        mode = self._modes[i]
        if mode is None:
            # a clause that ends with "?" is a question even if it starts like an order,
            # so the clause is read up to and including its end mark
            end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
            clause = self.text[self.starts[i] : min(len(self.text), end + 1)]
            mode = self._modes[i] = _mode(clause, self._hypo_possible)
        return mode

    def mode_at(self, pos: int) -> Mode:
        return self._mode_of(self.clause_of(pos)) if self.starts else "act"

    @property
    def modes(self) -> tuple[Mode, ...]:
        """Every clause's mode, in order."""
        return tuple(self._mode_of(i) for i in range(len(self.starts)))

    def clause_span(self, pos: int) -> tuple[int, int]:
        """``(start, end)`` of the clause holding ``pos``."""
        i = self.clause_of(pos)
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
        return (self.starts[i] if self.starts else 0), end


#: every byte but the control characters ``_CONTROL`` replaces (deleted to find them)
_NOT_CONTROL = bytes(c for c in range(256) if not (c < 128 and _CONTROL.match(chr(c))))


@lru_cache(maxsize=4)
def clean(text: str) -> str:
    """Drop control characters (binary junk) except tab and newline. Cached: the failure
    modes, the attachments and complexity clean the same request text."""
    # the control characters are ASCII and every UTF-8 byte of a non-ASCII character is
    # >= 128: a text whose bytes hold none of them is returned as is, without the scan
    raw = text.encode("utf-8", "surrogatepass")
    if not raw.translate(None, _NOT_CONTROL):
        return text
    return _CONTROL.sub(" ", text)


def cap(text: str, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """The text itself, or its first ``head`` and last ``tail`` characters if longer."""
    if len(text) <= head + tail:
        return text
    return text[:head] + "\n" + text[-tail:] if tail else text[:head]


def split_code(text: str) -> tuple[str, list[str]]:
    """``(prose with fenced blocks replaced by ' [code] ', [block contents])``."""
    blocks: list[str] = []

    def keep(m: re.Match[str]) -> str:
        blocks.append(m.group(0).strip("`~"))
        return " [code]\n"

    if "```" not in text and "~~~" not in text:
        return text, blocks
    return _FENCE.sub(keep, text), blocks


_REQUEST_LEAD = re.compile(r"^\W*" + _POLITE + r"(?:can|could|would|will) you\s+(?:please\s+)?\w+")
#: an explanation that goes on to ask for the change itself ("compare X and switch")
_THEN_ACT = re.compile(
    r"\b(?:and|then) (?:then )?(?:switch|implement|fix|apply|change|update|add|make|use|"
    r"migrate|deploy|delete|send|run|rewrite|replace|patch|remove)\b"
)


def _mode(clause: str, hypo_possible: bool = True) -> Mode:
    if hypo_possible and _HYPO.search(clause):
        return "hypo"
    if _EXPLAIN_LEAD.match(clause):
        return "act" if _THEN_ACT.search(clause) else "explain"
    if _REQUEST_LEAD.match(clause):
        return "act"
    if clause.rstrip().endswith("?"):
        return "explain"
    return "act"


def _clause_end_starts(low: str) -> list[int]:
    """Every position where a ``_CLAUSE_END`` match can start: one of ``!?;.`` or a
    newline, or the space before but / however / then / and then / after that."""
    found = set(occurrences(low, ("!", "?", ";", ".", "\n")))
    found.update(i - 1 for i in occurrences(low, ("but", "howe", "then", "and ", "afte")) if i)
    return sorted(found)


def prose_view(prose: str) -> Prose:
    """Lower-case ``prose`` (already free of code blocks) and find its clauses."""
    low = prose.lower()
    starts = [0]
    starts.extend(m.end() for m in scan_at(_CLAUSE_END, low, _clause_end_starts(low)))
    # every _HYPO match starts with one of its prefixes; a clause is a piece of ``low``
    hypo_possible = _HYPO_PREFIXES is None or any(p in low for p in _HYPO_PREFIXES)
    return Prose(low, tuple(starts), hypo_possible=hypo_possible)


def snippet(text: str, start: int, end: int, width: int = 48) -> str:
    """The matched text, squeezed to one line and at most ``width`` characters."""
    s = " ".join(text[start:end].split())
    return s if len(s) <= width else s[: width - 1] + "…"
