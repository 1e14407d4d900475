from __future__ import annotations

import numpy as np

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
