"""Complexity features and the offline token estimate."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from switchtower import tokens
from switchtower.signals import complexity
from switchtower.tokens import (
    EXACT_CHARS,
    MESSAGE_OVERHEAD_TOKENS,
    estimate_message_tokens,
    estimate_tokens,
)


def test_complexity_grows_with_requirements_and_code() -> None:
    easy = complexity("Say hello.")
    hard = complexity(
        "Implement a thread-safe LRU cache with O(1) get and put.\n"
        "- it must be backward compatible\n- it should handle concurrent writers\n"
        "- make sure eviction is deterministic\n- no more than 200 lines\n"
        "Then benchmark it and debug any race condition.\n"
        "```python\nclass Cache:\n    pass\n```"
    )
    assert 0.0 <= easy.score < hard.score <= 1.0
    assert hard.evidence
    assert any("requirements" in e for e in hard.evidence)


def test_complexity_evidence_names_length() -> None:
    sig = complexity("word " * 2000)
    assert sig.score > 0.2
    assert any("tokens" in e for e in sig.evidence)


def test_empty_is_zero_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_message_tokens([]) == 0


# Reference counts from SmolLM2's 49k byte-level BPE (benchmarks/tokens_calibration.py);
# cl100k gives the same or fewer. The estimate must stay within a factor of 1.5.
KNOWN = [
    ("Hello world, how are you?", 7),
    ("def parse_config(path: str) -> dict:\n    return {}", 15),
    ("The quick brown fox jumps over the lazy dog.", 10),
    ("configuration", 1),
]


def test_within_documented_factor_of_known_counts() -> None:
    for text, bpe in KNOWN:
        est = estimate_tokens(text)
        assert bpe / 1.5 <= est <= bpe * 1.5 + 1, (text, est, bpe)


def test_message_overhead() -> None:
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    expected = 2 * MESSAGE_OVERHEAD_TOKENS + estimate_tokens("hi") + estimate_tokens("hello")
    assert estimate_message_tokens(msgs) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500), st.text(max_size=500))
def test_monotone_under_appending(a: str, b: str) -> None:
    """Below the sampling cap, appending text never lowers the estimate."""
    assert estimate_tokens(a + b) >= estimate_tokens(a)


def test_huge_text_is_scaled_not_scanned() -> None:
    unit = "The deploy failed because the config was wrong. "
    small = estimate_tokens(unit * 100)
    huge = estimate_tokens(unit * 100 * 40)
    assert len(unit * 100 * 40) > EXACT_CHARS
    assert 30 * small <= huge <= 50 * small


@settings(max_examples=400, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("aZq_09 \n\t.,-->{}[]()'\"!?@`~é日Ωß\ud800\x00") | st.characters(),
        max_size=300,
    )
)
def test_token_counts_equal_the_regex_counts(text: str) -> None:
    """The byte-level counting in ``_count`` counts what plain regex scans count."""
    expected = (
        len(re.findall(r"[A-Za-z]{1,%d}" % tokens.LETTERS_PER_TOKEN, text))  # noqa: UP031
        + len(re.findall(r"[0-9]", text))
        + len(re.findall(r"[!-/:-@\[-`{-~]{1,2}", text))
        + len(re.findall(r"\n", text))
    )
    cjk = len(re.findall(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]", text))
    other = len(re.findall(r"[^\x00-\x7f]", text)) - cjk
    if not text.isascii():
        expected = (
            expected + cjk * tokens.CJK_TOKENS_PER_CHAR + other * tokens.OTHER_TOKENS_PER_CHAR
        )
    assert tokens._count(text) == float(expected)


def test_a_conversation_is_estimated_as_its_messages_are() -> None:
    """One scan of the joined texts (sampled when long) counts what a scan per message
    counts, within a few percent, plus the per-message overhead."""
    messages: list[dict[str, object]] = []
    for i in range(120):
        text = (
            f"def handler_{i}(request):\n    return db.query(request.args['id'])\n"
            if i % 2
            else "The quarterly numbers came in below plan because renewals slipped. " * 5
        )
        messages.append({"role": "user" if i % 2 else "assistant", "content": text})
    one_by_one = sum(4 + estimate_tokens(str(m["content"])) for m in messages)
    joined = estimate_message_tokens(messages)
    assert abs(joined - one_by_one) / one_by_one < 0.05
    short = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert estimate_message_tokens(short) == 4 + 1 + 4 + 1
