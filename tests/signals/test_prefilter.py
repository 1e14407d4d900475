"""The literal pre-filter is sound: gating a rule never changes what it matches."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from switchtower.signals.failure_modes import compute_failure_modes
from switchtower.signals.lexicon import CHAIN, RULES, Rule
from switchtower.signals.prefilter import required_prefixes, required_starts, scan

ALL_RULES: list[Rule] = [r for rules in RULES.values() for r in rules] + list(CHAIN)
LABELLED = Path(__file__).parents[2] / "benchmarks" / "data" / "signals_labelled.jsonl"


def test_prefixes_of_simple_patterns() -> None:
    assert required_prefixes(re.compile(r"\bdrop (?:table|database)\b")) == {"drop"}
    assert required_prefixes(re.compile(r"(?:force[- ]push|git reset)")) == {"forc", "git "}
    # an optional item is followed by what comes after it
    assert required_prefixes(re.compile(r"(?:re)?deploy")) == {"rede", "depl"}
    assert required_prefixes(re.compile(r"(?:on )?lines? \d")) == {"on l", "line"}
    # a repeat that may occur twice ends the prefix
    assert required_prefixes(re.compile(r"(?:ab)+cd")) == {"ab"}
    # a pattern that may start with any word character has no gate
    assert required_prefixes(re.compile(r"\w+ing")) is None
    assert required_prefixes(re.compile(r"(?i)drop")) is None
    assert required_prefixes(re.compile(r"x?")) is None


def test_most_rules_get_a_gate() -> None:
    gated = [r for r in ALL_RULES if r.prefixes is not None]
    assert len(gated) >= len(ALL_RULES) // 2


def _check(text: str) -> None:
    low = text.lower()
    for rule in ALL_RULES:
        if not rule.may_match(low):
            assert rule.pattern.search(low) is None, (rule.name, low)


def test_gate_never_hides_a_match_on_the_labelled_set() -> None:
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        _check(json.loads(line)["text"])


WORDS = [
    "drop", "table", "force-push", "push", "--force", "deploy", "prod", "migrate", "auth",
    "token", "api", "key", "password", "rm", "-rf", "delete", "users", "the", "then",
    "after", "first", "alembic", "schema", "column", "add", "send", "email", "pay",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS) | st.text(max_size=6), max_size=25))
def test_gate_never_hides_a_match_on_random_text(parts: list[str]) -> None:
    _check(" ".join(parts))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=20))
def test_signals_are_unchanged_by_the_gate(parts: list[str]) -> None:
    text = " ".join(parts)
    gated = compute_failure_modes(text)
    saved = [(r, r.starts) for r in ALL_RULES]
    try:
        for r in ALL_RULES:
            object.__setattr__(r, "starts", None)
        ungated = compute_failure_modes(text)
    finally:
        for r, s in saved:
            object.__setattr__(r, "starts", s)
    assert gated == ungated


def test_required_starts_split_word_and_anywhere_prefixes() -> None:
    s = required_starts(re.compile(r"\bdrop (?:table|database)\b|--force|\bgit push"))
    assert s is not None
    assert s.word == {"drop", "git "}
    assert s.anywhere == {"--fo"}
    # without a leading \b a prefix may start anywhere, even inside a word
    s2 = required_starts(re.compile(r"(?:re)?deploy"))
    assert s2 is not None
    assert s2.word == frozenset()
    assert s2.anywhere == {"rede", "depl"}
    # the gate's short prefixes remember the longer ones they were cut from
    assert s2.longer == {"rede": ("redepl",), "depl": ("deploy",)}
    # an ASCII \b differs from the Unicode one the word index uses
    s3 = required_starts(re.compile(r"\bdrop", re.ASCII))
    assert s3 is not None
    assert s3.word == frozenset()
    assert s3.anywhere == {"drop"}


def test_scan_skips_a_short_prefix_without_its_longer_one() -> None:
    pattern = re.compile(r"\b(?:on )?lines? \d+")
    starts = required_starts(pattern)
    assert starts is not None
    text = "on lunch, on line 4 and lines 5-6; online 7"
    got = [m.span() for m in scan(pattern, starts, text)]
    assert got == [m.span() for m in pattern.finditer(text)] == [(10, 19), (24, 31)]
