"""A sound literal pre-filter for regular expressions.

:func:`required_prefixes` reads a compiled pattern's syntax tree and returns a set of
literal strings such that *every* match of the pattern starts with one of them, or
``None`` when it cannot say (the pattern may start with a character class, a wildcard,
an empty match, ...). If none of the strings occurs in a text, the pattern cannot match
it, so the (slow, per-position) regex scan can be skipped after a few fast substring
searches. The answer is only ever an over-approximation of what can match, never an
under-approximation: skipping is exact, not heuristic.

Only zero-width assertions (``\\b``, ``^``, look-arounds) are stepped over; literals,
groups, alternations, optional and repeated items and small character sets are
followed; anything else ends the prefix where it stands.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["MIN_PREFIX", "required_prefixes"]

#: prefixes shorter than this gate too little to be worth a check
MIN_PREFIX = 2
#: stop extending once a prefix is this long (longer buys nothing)
_MAX_PREFIX = 6
#: the gate checks at most this many leading characters of each prefix
_GATE_CHARS = 4
#: give up when an alternation fans out into more prefixes than this
_MAX_PREFIXES = 64
#: follow a character set only when it lists at most this many characters
_MAX_SET = 4

try:  # the parser is private API; without it there is simply no pre-filter
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Python implementations
    _p = None
    _c = None


class _GiveUp(Exception):
    pass


def _set_chars(av: Any) -> list[str] | None:
    chars: list[str] = []
    for op, val in av:
        if op is _c.LITERAL:
            chars.append(chr(val))
        else:
            return None
    return chars if len(chars) <= _MAX_SET else None


def _extend(prefixes: set[str], items: Sequence[tuple[Any, Any]]) -> set[str]:
    """Every way ``items`` can begin, appended to each of ``prefixes``.

    Returns the extended set; a prefix stops growing at the first item that is not a
    literal (it stays a valid required prefix of the match).
    """
    out: set[str] = set()
    for prefix in prefixes:
        out |= _extend_one(prefix, list(items))
        if len(out) > _MAX_PREFIXES:
            raise _GiveUp
    return out


def _extend_one(prefix: str, items: list[tuple[Any, Any]]) -> set[str]:
    i = 0
    while i < len(items):
        if len(prefix) >= _MAX_PREFIX:
            return {prefix}
        op, av = items[i]
        rest = items[i + 1 :]
        if op is _c.AT or op in (_c.ASSERT, _c.ASSERT_NOT):
            i += 1
            continue
        if op is _c.LITERAL:
            prefix += chr(av)
            i += 1
            continue
        if op is _c.SUBPATTERN:
            if av[1] & re.IGNORECASE:  # (?i:...) makes its literals match any case
                raise _GiveUp
            return _extend({prefix}, list(av[-1]) + rest)
        if op is _c.BRANCH:
            out: set[str] = set()
            for alt in av[1]:
                out |= _extend({prefix}, list(alt) + rest)
            return out
        if op is _c.IN:
            chars = _set_chars(av)
            if chars is None:
                return {prefix}
            return _extend({prefix + ch for ch in chars}, rest)
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            lo, _hi, item = av
            if lo == 0:  # optional: either it starts here, or what follows does
                return _extend({prefix}, list(item)) | _extend({prefix}, rest)
            return _extend({prefix}, list(item))  # at least once: it starts here
        return {prefix}
    return {prefix}


def required_prefixes(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Literal strings one of which starts every match of ``pattern``, or ``None``."""
    if _p is None or pattern.flags & re.IGNORECASE:
        return None
    try:
        tree = _p.parse(pattern.pattern, pattern.flags)
        prefixes = _extend({""}, list(tree))
    except (_GiveUp, AttributeError, RecursionError, re.error, TypeError, ValueError):
        return None
    if not prefixes or any(len(p) < MIN_PREFIX for p in prefixes):
        return None
    return _minimal(prefixes)


def _minimal(prefixes: set[str]) -> frozenset[str]:
    """Fewer, shorter strings with the same guarantee: a prefix of a required prefix is
    required too, so each is cut to ``_GATE_CHARS`` and any that starts with another
    kept one is dropped ("copy a", "copy b" -> "copy ")."""
    cut = sorted({p[:_GATE_CHARS] for p in prefixes}, key=len)
    kept: list[str] = []
    for p in cut:
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return frozenset(kept)
