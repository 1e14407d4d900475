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

:func:`scan` uses the same guarantee the other way round: instead of trying the pattern
at every position of the text, it tries it only where one of the prefixes occurs (found
by ``str.find``), which yields exactly the matches of ``pattern.finditer`` (see
:func:`scan_at`). :class:`Gated` bundles a pattern with its prefixes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from types import MappingProxyType
from typing import Any, NamedTuple

from switchtower.words import word_runs

__all__ = [
    "MIN_PREFIX",
    "Gated",
    "Starts",
    "StartsIndex",
    "WordKey",
    "WordStarts",
    "alternation",
    "gated",
    "line_starts",
    "occurrences",
    "required_prefixes",
    "required_starts",
    "scan",
    "scan_at",
    "scan_present",
    "word_starts",
]

#: prefixes shorter than this gate too little to be worth a check
MIN_PREFIX = 2
#: stop extending once a prefix is this long (longer buys nothing)
_MAX_PREFIX = 6
#: the gate checks at most this many leading characters of each prefix
_GATE_CHARS = 4
#: give up when an alternation fans out into more prefixes than this
_MAX_PREFIXES = 512
#: follow a character set only when it lists at most this many characters
_MAX_SET = 4
#: marks a prefix whose path began with ``\b`` (never a character of a pattern literal
#: that matters here: prefixes with it are only used through :func:`required_starts`)
_WORD = "\x00"
#: a word character, as ``\w`` in a Unicode str pattern
_IS_WORD = re.compile(r"\w").fullmatch

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
        if len(prefix.lstrip(_WORD)) >= _MAX_PREFIX:
            return {prefix}
        op, av = items[i]
        rest = items[i + 1 :]
        if op is _c.AT or op in (_c.ASSERT, _c.ASSERT_NOT):
            if op is _c.AT and av is _c.AT_BOUNDARY and not prefix:
                prefix = _WORD  # the match starts where \b holds
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
            lo, hi, item = av
            # an item that occurs at most once is followed by what follows the repeat
            # ("(?:on )?line" -> "on line", "line"); a longer repeat ends the prefix there
            after = rest if hi == 1 else []
            if lo == 0:  # optional: either it starts here, or what follows does
                return _extend({prefix}, list(item) + after) | _extend({prefix}, rest)
            return _extend({prefix}, list(item) + after)  # at least once: it starts here
        return {prefix}
    return {prefix}


def _marked_prefixes(pattern: re.Pattern[str]) -> set[str] | None:
    """Required prefixes, those reached through a leading ``\\b`` marked with ``_WORD``."""
    if _p is None or pattern.flags & re.IGNORECASE:
        return None
    try:
        tree = _p.parse(pattern.pattern, pattern.flags)
        prefixes = _extend({""}, list(tree))
    except (_GiveUp, AttributeError, RecursionError, re.error, TypeError, ValueError):
        return None
    if not prefixes or any(len(p.lstrip(_WORD)) < MIN_PREFIX for p in prefixes):
        return None
    return prefixes


def required_prefixes(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Literal strings one of which starts every match of ``pattern``, or ``None``."""
    prefixes = _marked_prefixes(pattern)
    return None if prefixes is None else _minimal({p.lstrip(_WORD) for p in prefixes})


class WordKey(NamedTuple):
    """How to look a word prefix up in :class:`WordStarts`: ``word`` is its leading run of
    word characters; ``whole`` when a non-word character follows it in the prefix (then a
    match needs ``word`` as a whole word), else a word must begin with ``word``."""

    prefix: str
    word: str
    whole: bool


class Starts(NamedTuple):
    """Where a pattern's matches can start: at a word start (a ``\\w`` after a non-word
    character or the text's start) beginning with one of ``word``, or anywhere one of
    ``anywhere`` occurs."""

    word: frozenset[str]
    anywhere: frozenset[str]
    #: ``word`` prefixes of only word characters, by length (see :class:`WordKey`)
    begins: tuple[tuple[int, frozenset[str]], ...] = ()
    #: word -> the ``word`` prefixes that need it as a whole word
    whole: Mapping[str, tuple[str, ...]] = {}
    #: prefix -> the longer required prefixes it was cut from (see :func:`_minimal`): a
    #: match can start where the prefix occurs only if one of these occurs there too
    longer: Mapping[str, tuple[str, ...]] = {}


def _word_key(prefix: str) -> WordKey:
    m = _WORDS.match(prefix)
    word = m.group(0) if m else ""
    return WordKey(prefix, word, len(word) < len(prefix))


def required_starts(pattern: re.Pattern[str]) -> Starts | None:
    """:func:`required_prefixes` split by whether the pattern puts a ``\\b`` before them.

    A prefix reached through a leading ``\\b`` whose first character is a word character
    can only start a match at a word start (Unicode ``\\b``, as the text index uses; an
    ``re.ASCII`` pattern gets no word prefixes).
    """
    prefixes = _marked_prefixes(pattern)
    if prefixes is None:
        return None
    unicode_words = not pattern.flags & re.ASCII
    word: set[str] = set()
    anywhere: set[str] = set()
    for p in prefixes:
        bare = p.lstrip(_WORD)
        if unicode_words and p.startswith(_WORD) and _IS_WORD(bare[0]):
            word.add(bare)
        else:
            anywhere.add(bare)
    any_kept = _minimal(anywhere)
    # an occurrence anywhere covers a word-start occurrence of a longer prefix
    word_kept = {w for w in _minimal(word) if not any(w.startswith(a) for a in any_kept)}
    by_len: dict[int, set[str]] = {}
    whole: dict[str, list[str]] = {}
    for key in map(_word_key, sorted(word_kept)):
        if key.whole:
            whole.setdefault(key.word, []).append(key.prefix)
        else:
            by_len.setdefault(len(key.prefix), set()).add(key.prefix)
    bares = {p.lstrip(_WORD) for p in prefixes}
    longer = {
        k: tuple(sorted(b for b in bares if b.startswith(k)))
        for k in word_kept | any_kept
        if k not in bares
    }
    return Starts(
        frozenset(word_kept),
        any_kept,
        tuple((k, frozenset(v)) for k, v in sorted(by_len.items())),
        MappingProxyType({w: tuple(v) for w, v in whole.items()}),
        MappingProxyType(longer),
    )


def alternation(words: Sequence[str]) -> str:
    """``(?:w1|w2|...)`` for regex snippets ``words`` that each start with a literal
    character, written grouped by that character: ``(?:a(?:dd|pply)|b(?:uild))``.

    It matches exactly what the plain alternation matches, the leftmost-first choice
    included: words with different first characters never match at the same place, and
    the order within a group is kept. The engine then tries one branch per first
    character instead of every word (much faster for long word lists).
    """
    groups: dict[str, list[str]] = {}
    for word in words:
        if not word[:1].isalnum() or word[1:2] in ("?", "*", "+", "{"):
            raise ValueError(f"{word!r} does not start with a literal character")
        groups.setdefault(word[0], []).append(word[1:])
    return "(?:" + "|".join(f"{c}(?:{'|'.join(rest)})" for c, rest in groups.items()) + ")"


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


def occurrences(text: str, needles: Iterable[str]) -> list[int]:
    """Sorted start positions of every (also overlapping) occurrence of each needle."""
    found: set[int] = set()
    find = text.find
    for needle in needles:
        i = find(needle)
        while i >= 0:
            found.add(i)
            i = find(needle, i + 1)
    return sorted(found)


def _candidates(
    text: str, needles: Iterable[str], longer: Mapping[str, tuple[str, ...]]
) -> list[int]:
    """:func:`occurrences` of ``needles``, keeping an occurrence of a needle listed in
    ``longer`` only where one of its longer prefixes starts too."""
    found: set[int] = set()
    find = text.find
    startswith = text.startswith
    for needle in needles:
        full = longer.get(needle)
        i = find(needle)
        while i >= 0:
            if full is None or startswith(full, i):
                found.add(i)
            i = find(needle, i + 1)
    return sorted(found)


@lru_cache(maxsize=4)
def line_starts(text: str) -> tuple[int, ...]:
    """0 and every position after a newline: where ``(?m)^`` can match. Cached: the
    numbered steps, list items and code lines of one text are all looked for there."""
    return (0, *(i + 1 for i in occurrences(text, ("\n",))))


def scan_at(pattern: re.Pattern[str], text: str, starts: Iterable[int]) -> Iterator[re.Match[str]]:
    """The matches of ``pattern.finditer(text)``, given ascending ``starts`` that include
    the start of every match the pattern can have in ``text``, and a pattern that never
    matches the empty string.

    Exact: ``finditer`` searches from the end of the last match for the leftmost position
    where the pattern matches; no match can start outside ``starts``, so that is the first
    start at or after the end of the last match where ``pattern.match`` succeeds, and
    ``match(text, pos)`` sees the text before ``pos`` for look-behinds, ``\\b`` and ``^``
    just as a search does. (Only ``Match.pos`` differs.)
    """
    end = 0
    match = pattern.match
    for s in starts:
        if s < end:
            continue
        m = match(text, s)
        if m is not None:
            yield m
            end = m.end()


_WORDS = re.compile(r"\w+")


_FIRST4, _FIRST3, _FIRST2 = (itemgetter(slice(n)) for n in (4, 3, 2))


class WordStarts:
    """The words of one text and their first 2, 3 and 4 characters (built once per text
    and shared by every pattern scanned over it; the first characters only when a
    pattern asks, since some texts are only looked up by whole words)."""

    __slots__ = ("_keys", "text", "words")

    def __init__(self, text: str) -> None:
        self.text = text
        #: every maximal run of word characters
        self.words: set[str] = set(word_runs(text))
        self._keys: dict[int, set[str]] | None = None

    @property
    def keys(self) -> dict[int, set[str]]:
        """Key length -> the first characters of the words (whole words when shorter)."""
        if self._keys is None:
            k4 = set(map(_FIRST4, self.words))
            k3 = set(map(_FIRST3, k4))
            self._keys = {2: set(map(_FIRST2, k3)), 3: k3, 4: k4}
        return self._keys

    def present(self, starts: Starts) -> list[str]:
        """The word prefixes of ``starts`` that some word start of the text begins with
        (any other cannot start a match)."""
        keys = self.keys
        out: list[str] = []
        for k, group in starts.begins:
            out.extend(group & keys[k])
        if starts.whole:
            for word in starts.whole.keys() & self.words:
                out.extend(starts.whole[word])
        return out


class StartsIndex:
    """The word prefixes of several patterns' :class:`Starts` in one table: a text's
    :class:`WordStarts` is intersected with all of them at once (for a rule set scanned
    over one text), giving what :meth:`WordStarts.present` gives for each."""

    __slots__ = ("_begins", "_size", "_whole", "_whole_words")

    def __init__(self, starts: Sequence[Starts | None]) -> None:
        begins: dict[int, dict[str, list[int]]] = {}
        whole: dict[str, list[tuple[int, str]]] = {}
        for i, s in enumerate(starts):
            if s is None:
                continue
            for k, group in s.begins:
                for prefix in group:
                    begins.setdefault(k, {}).setdefault(prefix, []).append(i)
            for word, prefixes in s.whole.items():
                whole.setdefault(word, []).extend((i, p) for p in prefixes)
        self._size = len(starts)
        #: (key length, prefix -> the patterns with it, every such prefix)
        self._begins = tuple((k, table, frozenset(table)) for k, table in sorted(begins.items()))
        self._whole = whole
        self._whole_words = frozenset(whole)

    def present(self, words: WordStarts) -> list[list[str]]:
        """For each pattern, its word prefixes that some word start of the text begins
        with (in another order than :meth:`WordStarts.present`)."""
        out: list[list[str]] = [[] for _ in range(self._size)]
        keys = words.keys
        for k, table, prefixes in self._begins:
            for prefix in prefixes & keys[k]:
                for i in table[prefix]:
                    out[i].append(prefix)
        for word in self._whole_words & words.words:
            for i, prefix in self._whole[word]:
                out[i].append(prefix)
        return out


@lru_cache(maxsize=4)
def word_starts(text: str) -> WordStarts:
    """The (cached) :class:`WordStarts` of ``text``: texts are scanned by many patterns."""
    return WordStarts(text)


def scan(
    pattern: re.Pattern[str], starts: Starts | None, text: str, *, index: bool = True
) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)``, trying the pattern only where a required prefix starts
    (every prefix is at least :data:`MIN_PREFIX` long, so no match is empty). With
    ``index``, word prefixes are first looked up in the text's cached :class:`WordStarts`
    (worth it for a text that many patterns scan)."""
    if starts is None:
        return pattern.finditer(text)
    if not index:
        needles = starts.word | starts.anywhere
        return scan_at(pattern, text, _candidates(text, needles, starts.longer))
    # a word prefix that stands at no word start cannot start a match: skip its search
    return scan_present(pattern, starts, text, word_starts(text).present(starts))


def scan_present(
    pattern: re.Pattern[str], starts: Starts, text: str, present: list[str]
) -> Iterator[re.Match[str]]:
    """:func:`scan` given the word prefixes of ``starts`` that stand at a word start of
    ``text`` (:meth:`WordStarts.present`, or one entry of :meth:`StartsIndex.present`)."""
    if not present and not starts.anywhere:
        return iter(())
    return scan_at(pattern, text, _candidates(text, [*present, *starts.anywhere], starts.longer))


@dataclass(frozen=True, slots=True)
class Gated:
    """A compiled pattern and where its matches can start (``None``: scanned as usual)."""

    pattern: re.Pattern[str]
    starts: Starts | None
    #: use the per-text word-start index (for patterns over the shared lower-cased prose)
    index: bool = True

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return scan(self.pattern, self.starts, text, index=self.index)

    def may_match(self, text: str) -> bool:
        """False only when the pattern cannot match ``text``: no required prefix stands
        where a match could start it (word prefixes looked up in the text's cached
        :class:`WordStarts` when ``index``)."""
        starts = self.starts
        if starts is None or any(a in text for a in starts.anywhere):
            return True
        if self.index:
            return bool(word_starts(text).present(starts))
        return any(w in text for w in starts.word)

    def count(self, text: str) -> int:
        """``len(pattern.findall(text))``."""
        return sum(1 for _ in self.finditer(text))

    def matched(self, text: str) -> list[str]:
        """``[m.group(0) for m in pattern.finditer(text)]`` (``findall`` without groups)."""
        return [m.group(0) for m in self.finditer(text)]


def gated(pattern: str, flags: int = 0, *, index: bool = True) -> Gated:
    """Compile ``pattern`` and find where its matches can start."""
    compiled = re.compile(pattern, flags)
    return Gated(compiled, required_starts(compiled), index)
