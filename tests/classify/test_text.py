from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from switchtower.classify.text import (
    HEAD_CHARS,
    INSTRUCTION_REPEATS,
    MAX_CHARS,
    TAIL_CHARS,
    is_binary,
    prepare_text,
)


def test_short_text_is_only_whitespace_normalised() -> None:
    assert prepare_text("  fix\tthe\n\nbug  ") == "fix the bug"


def test_long_text_keeps_head_and_tail() -> None:
    text = "summarize this " + "lorem ipsum " * 2000 + " what does it conclude?"
    out = prepare_text(text)
    assert len(out) <= MAX_CHARS + 10
    assert out.startswith("summarize this")
    assert out.endswith("what does it conclude?")
    assert " ... " in out
    assert len(out) >= HEAD_CHARS + TAIL_CHARS


def test_binary_and_empty_become_empty() -> None:
    assert prepare_text("") == ""
    assert prepare_text(None) == ""
    assert prepare_text("\x00\x01\x02\x03\x04" * 50) == ""
    assert is_binary("\x00\x01\x02 abc" * 10)
    assert not is_binary("héllo wörld, 你好")


def test_bytes_and_control_characters_are_cleaned() -> None:
    assert prepare_text(b"write \xff code") == "write \ufffd code"
    assert prepare_text("a\x00b\u200bc") == "a b c"


def test_whitespace_folding_equals_the_regex_rule() -> None:
    r"""prepare_text folds whitespace with str.split, on the grounds that its whitespace is
    exactly ``\s`` of a str regex: checked for every code point."""
    space = re.compile(r"\s")
    assert [
        c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() != bool(space.match(c))
    ] == []
    assert prepare_text(" a\u2003\x1c b\u3000") == "a b"


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from([chr(i) for i in range(128)] + ["a"] * 40), max_size=80))
def test_ascii_controls_are_counted_and_replaced_like_the_regex(text: str) -> None:
    """The byte-table shortcuts for ASCII text count and replace exactly what the
    control-character regex finds."""
    share = len(_CONTROL.findall(text)) / len(text) if text else 0.0
    assert is_binary(text) is (share > 0.3)
    if share <= 0.3:
        assert prepare_text(text) == " ".join(_CONTROL.sub(" ", text).split())


def test_instruction_rule_reads_a_short_first_or_last_paragraph_again() -> None:
    article = "The central bank kept its rates unchanged on Thursday. " * 10
    first = prepare_text("tl;dr this pls\n\n" + article)
    assert first.startswith("tl;dr this pls " * (INSTRUCTION_REPEATS + 1) + "The central bank")
    last = prepare_text(article + "\n\nwhat does this mean for mortgages?")
    ask = "what does this mean for mortgages? "
    assert last.startswith(ask * INSTRUCTION_REPEATS + "The central bank")
    code = "```\n" + "x = compute(a, b)\n" * 30 + "```\nwhy is this slow?"
    assert prepare_text(code).startswith("why is this slow? " * INSTRUCTION_REPEATS + "``` x = ")
    # one paragraph, or a short text: nothing is repeated
    assert prepare_text(article).startswith("The central bank kept its rates unchanged on")
    assert prepare_text("fix this\n\nplease") == "fix this please"
