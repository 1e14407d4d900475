from __future__ import annotations

import numpy as np

from switchtower.classify.components import TfidfComponent
from switchtower.classify.ngrams import NgramFeaturizer, analyze, fit_ngrams

TEXTS = [
    "Write a Python function",
    "fix the failing test in utils.py",
    "Translate this into Spanish, por favor",
    "summarize the report",
]


def test_inference_rows_match_scikit_learn() -> None:
    """The pure-numpy transform must equal sklearn's TfidfVectorizer on the same analyzer."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    feat = fit_ngrams(TEXTS)
    ref = TfidfVectorizer(analyzer=analyze, sublinear_tf=True).fit(TEXTS)
    queries = [*TEXTS, "write the test", "zzz unseen"]
    ours = feat.transform(queries).toarray()
    theirs = ref.transform(queries).toarray()
    order = [ref.vocabulary_[t] for t in feat.terms]
    np.testing.assert_allclose(ours, theirs[:, order], atol=1e-6)


def test_round_trip_through_arrays() -> None:
    feat = fit_ngrams(TEXTS)
    meta, arrays = feat.to_arrays()
    back = NgramFeaturizer.from_arrays(meta, arrays)
    idx, vals = back.transform_one("fix the test")
    idx2, vals2 = feat.transform_one("fix the test")
    assert list(idx) == list(idx2)
    np.testing.assert_allclose(vals, vals2)


def test_unknown_text_gives_empty_row() -> None:
    idx, vals = fit_ngrams(TEXTS).transform_one("")
    assert len(idx) == 0
    assert len(vals) == 0


def test_explanation_names_the_words_that_pushed_hardest() -> None:
    """Up to three word features (never character n-grams) with a positive push towards
    the class, strongest first; ties in vocabulary order."""
    feat = fit_ngrams(TEXTS)
    comp = TfidfComponent(feat, np.zeros((feat.dim, 2), np.float32), np.zeros(2, np.float32))
    assert comp.explain("write the test", 0) == "character patterns"  # nothing pushes
    assert comp.explain("qqq", 0) == "no known terms"
    weights = np.zeros((feat.dim, 2), np.float32)
    voc = feat.vocabulary
    weights[voc["w:test"], 1] = 3.0
    weights[voc["w:write"], 1] = 2.0
    weights[voc["w:the"], 1] = -1.0  # pushes away: never shown
    weights[voc["c:tes"], 1] = 50.0  # a character n-gram never shows
    comp = TfidfComponent(feat, weights, np.zeros(2, np.float32))
    idx, vals = feat.transform_one("write the test")
    push = {
        feat.terms[int(i)]: float(v) * float(weights[i, 1]) for i, v in zip(idx, vals, strict=True)
    }
    expected = sorted(
        (t for t in ("w:test", "w:write") if push[t] > 0),
        key=lambda t: (-push[t], voc[t]),
    )
    assert comp.explain("write the test", 1) == "top terms: " + ", ".join(
        repr(t[2:]) for t in expected
    )
    assert comp.explain("write the test", 0) == "character patterns"
