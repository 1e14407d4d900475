"""Attached code: what the messages include as code or file content.

A reference to code is satisfied when the code is attached (``repo_context.py``). Code
counts as attached when it is a fenced block, a tool result, inline SQL, a run of at
least :data:`_MIN_CODE_LINES` code-like lines (not a traceback), or a literal pasted on
a line of its own. Each message is searched over its first :data:`ATTACHED_HEAD` and
last :data:`ATTACHED_TAIL` characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import islice
from typing import Any

from switchtower.signals.prefilter import gated, line_starts, scan_at
from switchtower.signals.text import cap, clean, split_code
from switchtower.types import message_text

__all__ = ["ATTACHED_HEAD", "ATTACHED_TAIL", "attached_code"]

_INLINE_SQL = gated(
    r"\b(?:SELECT .+ FROM|UPDATE \w+ SET|INSERT INTO|DELETE FROM|ALTER TABLE|CREATE "
    r"(?:TABLE|INDEX))\b[^\n]*",
    index=False,
)
_CODE_LINE = re.compile(
    r"(?m)^\s*(?:def |class |async def |function |func |fn |import |from [\w.]+ import |"
    r"const |let |var |public |private |protected |package |#include|return\b|@\w+|"
    r"if \(|for \(|while \(|}|SELECT |INSERT |UPDATE |CREATE |ALTER |[\w.\[\]]+ = .+$|"
    r".*[;{]\s*$|[+-]{3} [ab]/|@@ )"
)
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+at [\w.$]+\(", re.M)
#: characters of each message searched for attached code (more than the prose cap: a
#: pasted file may sit in the middle of a long message)
ATTACHED_HEAD = 16_000
ATTACHED_TAIL = 4_000
#: code-like lines in one message needed to count it as attached code
_MIN_CODE_LINES = 3
#: one line of prose that is a literal assigned to a name (``settings = {...}``,
#: ``df = pd.DataFrame({...})``): what it names is given, even without a code block
_INLINE_LITERAL = re.compile(
    r"(?m)^[ \t]*[A-Za-z_][\w.]*[ \t]*=[ \t]*(?:[\w.]+\()?[\[{(][^\n]*[\]})][ \t]*;?[ \t]*$"
)


def _is_code(prose: str) -> bool:
    """At least :data:`_MIN_CODE_LINES` code-like lines: every ``_CODE_LINE`` match starts
    at a line start, and counting stops once there are enough. Text with fewer line starts
    than that cannot have enough and is not scanned (a one-line turn: most of them)."""
    if prose.count("\n") < _MIN_CODE_LINES - 1:
        return False
    found = islice(scan_at(_CODE_LINE, prose, line_starts(prose)), _MIN_CODE_LINES)
    return sum(1 for _ in found) >= _MIN_CODE_LINES


def attached_code(messages: Sequence[Mapping[str, Any]]) -> str:
    """Everything the messages include as code or file content (may be empty)."""
    parts: list[str] = []
    for m in messages:
        if not isinstance(m, Mapping):
            continue
        text = clean(cap(message_text(m), ATTACHED_HEAD, ATTACHED_TAIL))
        if not text:
            continue
        if m.get("role") in ("tool", "function"):
            parts.append(text)
            continue
        prose, blocks = split_code(text)
        parts.extend(blocks)
        parts.extend(_INLINE_SQL.matched(prose))
        if _is_code(prose) and not _TRACEBACK.search(prose):
            parts.append(prose)
        elif "=" in prose:
            parts.extend(m.group() for m in scan_at(_INLINE_LITERAL, prose, line_starts(prose)))
    return "\n".join(parts)
