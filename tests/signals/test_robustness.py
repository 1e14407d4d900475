"""Bad input never crashes and scores stay in [0, 1]."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from switchtower.signals import complexity, compute_failure_modes
from switchtower.signals.extractor import HeuristicSignalExtractor
from switchtower.types import FAILURE_MODES, Classification, Request

CLS = Classification(operation="unknown", confidence=0.0)


def _check(request: Request) -> None:
    sig = HeuristicSignalExtractor().extract(request, CLS)
    assert set(sig.failure_modes) == set(FAILURE_MODES)
    for s in (*sig.failure_modes.values(), sig.complexity):
        assert 0.0 <= s.score <= 1.0
        assert all(isinstance(e, str) for e in s.evidence)
    assert sig.context_tokens >= 0
    assert isinstance(sig.explanation, str)
    assert sig.explanation


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=3000))
def test_arbitrary_text(text: str) -> None:
    _check(Request.from_text(text))


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=2000))
def test_binary_decoded_as_latin1(raw: bytes) -> None:
    _check(Request.from_text(raw.decode("latin-1")))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["system", "user", "assistant", "tool", "weird"]),
                "content": st.one_of(
                    st.none(),
                    st.text(max_size=300),
                    st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text()})),
                ),
            }
        ),
        max_size=5,
    )
)
def test_arbitrary_message_lists(messages: list[dict[str, object]]) -> None:
    _check(Request(messages=tuple(messages)))


def test_empty_request() -> None:
    _check(Request(messages=()))
    assert all(s.score == 0.0 for s in compute_failure_modes("").values())
    assert complexity("").score == 0.0


def test_huge_request_is_capped_and_sees_head_and_tail() -> None:
    middle = "lorem ipsum dolor sit amet " * 40_000
    text = "Force-push the branch to main.\n" + middle + "\nThen deploy it to production."
    modes = compute_failure_modes(text)
    assert modes["high_consequence_write"].score >= 0.5
    sig = HeuristicSignalExtractor().extract(Request.from_text(text), CLS)
    assert sig.context_tokens > 100_000


def test_non_english_text() -> None:
    text = "请删除生产数据库中的所有用户记录，然后部署。Удалите все записи пользователей."
    _check(Request.from_text(text))
