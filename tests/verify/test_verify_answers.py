"""Final answers of short-answer responses, and agreement between two."""

from __future__ import annotations

import pytest

from switchtower.verify.answers import agreement, final_answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("D", "d"),
        ("D\n", "d"),
        ("(b) palms covered with oil", "b"),
        ("Answer: B) dry palms", "b"),
        ("The answer is (C).", "c"),
        ("Step one...\nStep two...\n#### 1,000", "1000"),
        ("so the total is \\boxed{42}", "42"),
        ("She sells 9 eggs.\nSo she makes $18.00 every day.", "18"),
        ("Final answer: 7\nExplanation: 3 + 4", "7"),
        ("Paris", "paris"),
        ("  Paris.  ", "paris"),
        ("-0", "0"),
    ],
)
def test_final_answer(text: str, answer: str) -> None:
    assert final_answer(text) == answer


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Here is a longer explanation of how the caching layer works, with no single answer.",
        "def add(a, b):\n    return a + b\n\n# a helper used by the billing module",
    ],
)
def test_no_final_answer(text: str) -> None:
    assert final_answer(text) is None


def test_agreement_compares_final_answers_not_wording() -> None:
    long_a = "Janet has 16 - 3 - 4 = 9 eggs left.\nShe makes 9 * 2 = $18."
    assert agreement(long_a, "Step by step...\n#### 18") is True
    assert agreement(long_a, "#### 26") is False
    assert agreement("A", "a)") is True
    assert agreement("A", "C") is False


def test_no_verdict_without_a_final_answer_on_either_side() -> None:
    essay = "It depends on the workload, the team and what the service must guarantee."
    assert agreement(essay, "B") is None
    assert agreement("B", essay) is None


def test_json_answers_compare_as_values() -> None:
    a = '{"name": "Acme Corp", "total": 1200, "items": ["bolt", "nut"]}'
    b = '```json\n{"Total": 1200.0, "name": "acme corp.", "items": ["Bolt", "nut"]}\n```'
    assert agreement(a, b) is True
    assert agreement(a, '{"name": "Acme Corp", "total": 1300, "items": ["bolt", "nut"]}') is False
    assert agreement(a, '{"name": "Acme Corp", "total": 1200, "items": ["nut", "bolt"]}') is False
    assert (
        final_answer('[{"id": 1, "ok": true, "note": null}]')
        == '[{"id":"1","note":null,"ok":true}]'
    )


def test_text_that_only_looks_like_json_is_not_json() -> None:
    assert final_answer("{not json at all") == "not json at all"
    essay = "{" + "a long unbalanced brace and then many words of prose " * 3
    assert final_answer(essay) is None


def test_a_short_answer_agrees_with_a_short_sentence_holding_it() -> None:
    assert agreement("Paris", "The capital is Paris.") is True
    assert agreement("New York", "It is New York City") is True
    assert agreement("Paris", "The capital is Lyon.") is False
    # letters and numbers must be equal, never found inside another answer
    assert agreement("A", "a) 3 apples") is True  # both read as choice a
    assert agreement("B", "It is a bird") is False
    assert agreement("42", "The answer is 420.") is False
