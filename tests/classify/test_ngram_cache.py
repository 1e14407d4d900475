"""The cached word-by-word featurizer must equal featurizing ``analyze`` output."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from switchtower.classify.ngrams import NgramFeaturizer, analyze

CORPUS = [
    "Fix the failing test in tests/test_api.py",
    "Draft a reply to the customer about the refund",
    "Summarize this repository's README and architecture",
    "fix fix fix the the bug bug",
    "Übersetze diesen Satz ins Englische, bitte",
]


def reference_row(f: NgramFeaturizer, text: str) -> dict[int, float]:
    counts = Counter(t for t in analyze(text) if t in f.vocabulary)
    raw = {f.vocabulary[t]: (1.0 + math.log(c)) * float(f.idf[f.vocabulary[t]])
           for t, c in counts.items()}  # fmt: skip
    norm = math.sqrt(sum(v * v for v in raw.values()))
    return {k: v / norm for k, v in raw.items()} if norm else {}


def featurizer() -> NgramFeaturizer:
    terms = sorted({t for text in CORPUS for t in analyze(text)})
    idf = np.linspace(1.0, 3.0, len(terms)).astype(np.float32)
    return NgramFeaturizer(tuple(terms), idf)


FEAT = featurizer()


def as_dict(row: tuple[np.ndarray, np.ndarray]) -> dict[int, float]:
    return {int(i): float(v) for i, v in zip(*row, strict=True)}


def test_rows_match_the_reference_on_known_text() -> None:
    for text in [*CORPUS, "the bug in the test", "", "zzz qqq"]:
        got, want = as_dict(FEAT.transform_one(text)), reference_row(FEAT, text)
        assert got.keys() == want.keys()
        for k in want:
            assert abs(got[k] - want[k]) < 1e-5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*" ".join(CORPUS).split(), "x", "the"]), max_size=30))
def test_rows_match_the_reference_on_word_mixes(words: list[str]) -> None:
    text = " ".join(words)
    got, want = as_dict(FEAT.transform_one(text)), reference_row(FEAT, text)
    assert got.keys() == want.keys()
    for k in want:
        assert abs(got[k] - want[k]) < 1e-5


def test_ascii_fast_path_cleans_like_the_general_path() -> None:
    """The ASCII shortcut in prepare_text/is_binary must agree with the per-character rule."""
    import unicodedata

    from switchtower.classify.text import is_binary, prepare_text

    ascii_chars = "".join(chr(i) for i in range(128))
    text = ascii_chars * 3 + " hello world "
    cleaned = "".join(
        ch if ch.isspace() or unicodedata.category(ch)[0] != "C" else " " for ch in text
    )
    # the same text with one non-ASCII character takes the general path
    assert prepare_text(text + " é") == prepare_text(text) + " é"
    assert prepare_text(text) == " ".join(cleaned.split())
    assert is_binary("\x00\x01\x02" * 100) is True
    assert is_binary("plain text\n" * 10) is False


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.characters(max_codepoint=127), max_size=60)
    | st.text(alphabet=st.sampled_from([*"aZ9_ -.\t\n", "é", "ß", "İ", "\u212a", "٣"]), max_size=30)
)
def test_words_are_the_word_regex_matches(text: str) -> None:
    """The ASCII shortcut (translate + split) finds exactly the regex's words, as the
    classifier (lowercased) and the signals' word index use them."""
    from switchtower.classify.ngrams import _words
    from switchtower.signals.prefilter import WordStarts
    from switchtower.words import word_runs

    assert word_runs(text) == re.findall(r"\w+", text)
    assert _words(text) == re.findall(r"(?u)\b\w+\b", text.lower())
    assert WordStarts(text).words == set(re.findall(r"\w+", text))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=200))
def test_counted_is_numpy_unique(values: list[int]) -> None:
    """The featurizer's distinct-column count equals ``np.unique(..., return_counts=True)``."""
    from switchtower.classify.ngrams import _counted

    want = np.unique(np.asarray(values, dtype=np.int32), return_counts=True)
    got = _counted(np.asarray(values, dtype=np.int32))
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        assert g.tolist() == w.tolist()
