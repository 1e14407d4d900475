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

from switchtower.signals.prefilter import gated, occurrences, scan_at, word_starts

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
#: "for the new-hire wiki, write a paragraph ...": a lead-in naming what it is for
_FOR_LEAD = r"(?:for [^,\n]{1,40},\s*)?"
_EXPLAIN_LEAD = re.compile(
    r"^\W*"
    + _FOR_LEAD
    + _POLITE
    + _ASK
    + r"(?:explain|describe|summari[sz]e|tell me|walk me through|"
    r"what(?:'s| is| are| was| were| does| do| did| happens)?\b|why|when|where|which|who|"
    r"how (?:does|do|did|is|are|was|would|could|can|should|come|many|much|to)\b|"
    r"is (?:it|there|this|that)\b|are (?:there|these|those|we)\b|does\b|do (?:we|i|you)\b|"
    r"define|compare|help me understand|teach|outline|recap|list|show(?: me)?|display|print|"
    r"(?:write|draft|create|prepare|give me|produce|make)\s+(?:me\s+)?(?:a |an |the |some )?"
    r"(?:[\w-]+\s+){0,3}(?:doc|docs|documentation|tutorial|blog|article|guide|explanation|"
    r"summary|overview|faq|readme|post|slides?|quiz|lesson|comparison|diagram|"
    r"changelog entry|release notes?|draft|proposal|outline|poem|haiku|limerick|story|song|"
    r"postmortem|post-mortem|runbook|playbook|incident report|retrospective|design doc|rfc|"
    r"joke|essay|cover letter|bio|flashcards?|flashcard set|presentation|talk|template|"
    r"mockup|copy|paragraph|wiki page|wiki entry|announcement|newsletter)\b|draft\b)"
)
_HYPO = gated(
    r"\b(?:what (?:would|will|could|might) happen|hypothetical(?:ly)?|in theory|"
    r"suppose|imagine|if we were to|if i were to|would it be (?:safe|possible|bad|ok)|"
    r"what if|is it (?:safe|possible|ok|okay) to|should (?:we|i)\b)"
)


class Prose:
    """Lower-cased prose of a request with clause boundaries and per-clause modes.

    The clauses are found the first time a detector asks where one is (the prose of a
    request that no rule matches is never split), and a clause's mode the first time a
    detector asks for it (most clauses of a long request hold no hit, so most are never
    tagged); ``modes`` tags them all.
    """

    __slots__ = ("_hypo_possible", "_modes", "_starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: tuple[int, ...] | None = None
        self._modes: list[Mode | None] = []
        self._hypo_possible: bool | None = None

    @property
    def starts(self) -> tuple[int, ...]:
        """Where each clause starts (0 first), ascending."""
        if self._starts is None:
            self._starts = _clause_starts(self.text)
            self._modes = [None] * len(self._starts)
        return self._starts

    def clause_of(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self.starts, pos) - 1)

    def _mode_of(self, i: int) -> Mode:
        mode = self._modes[i]
        if mode is None:
            if self._hypo_possible is None:
                # a clause is a piece of the text that starts at a word start of the
                # text or after a non-word character, so a hypothetical in a clause
                # starts at a word start of the text
                self._hypo_possible = _HYPO.may_match(self.text)
            # a clause that ends with "?" is a question even if it starts like an order,
            # so the clause is read up to and including its end mark
            end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
            clause = self.text[self.starts[i] : min(len(self.text), end + 1)]
            mode = self._modes[i] = _mode(clause, self._hypo_possible)
        return mode

    def mode_at(self, pos: int) -> Mode:
        return self._mode_of(self.clause_of(pos))

    @property
    def modes(self) -> tuple[Mode, ...]:
        """Every clause's mode, in order."""
        return tuple(self._mode_of(i) for i in range(len(self.starts)))

    def clause_span(self, pos: int) -> tuple[int, int]:
        """``(start, end)`` of the clause holding ``pos``."""
        starts = self.starts
        i = self.clause_of(pos)
        return starts[i], starts[i + 1] if i + 1 < len(starts) else len(self.text)


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
    if hypo_possible and _HYPO.pattern.search(clause):
        return "hypo"
    if _EXPLAIN_LEAD.match(clause):
        return "act" if _THEN_ACT.search(clause) else "explain"
    if _REQUEST_LEAD.match(clause):
        return "act"
    if clause.rstrip().endswith("?"):
        return "explain"
    return "act"


#: the words after which ``_CLAUSE_END`` matches at a white space (each a whole word
#: there) and the text that follows that white space
_CLAUSE_WORDS = (
    (("but",), "but"),
    (("however",), "however"),
    (("then",), "then"),
    (("and", "then"), "and then"),
    (("after", "that"), "after that"),
)


def _clause_end_starts(low: str) -> list[int]:
    """Every position where a ``_CLAUSE_END`` match can start: one of ``!?;.`` or a
    newline, or the white space before but / however / then / and then / after that
    (looked for only when the text holds those words)."""
    found = set(occurrences(low, ("!", "?", ";", ".", "\n")))
    words = word_starts(low).words
    after = [text for needed, text in _CLAUSE_WORDS if words.issuperset(needed)]
    found.update(i - 1 for i in occurrences(low, after) if i)
    return sorted(found)


def _clause_starts(low: str) -> tuple[int, ...]:
    """0 and the end of every ``_CLAUSE_END`` match of ``low``."""
    return (0, *(m.end() for m in scan_at(_CLAUSE_END, low, _clause_end_starts(low))))


def prose_view(prose: str) -> Prose:
    """The lower-cased ``prose`` (already free of code blocks), split into clauses when
    a detector first asks."""
    return Prose(prose.lower())


def snippet(text: str, start: int, end: int, width: int = 48) -> str:
    """The matched text, squeezed to one line and at most ``width`` characters."""
    s = " ".join(text[start:end].split())
    return s if len(s) <= width else s[: width - 1] + "…"
