"""Word and character n-gram TF-IDF features, computed without scikit-learn at run time.

Training uses scikit-learn's vectorizer with :func:`analyze` as its analyzer, so that
training and inference tokenise identically by construction. The fitted vocabulary and
idf weights are exported as plain data; :meth:`NgramFeaturizer.transform_one` rebuilds a
request's sparse vector from them in pure Python + numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from switchtower.words import word_runs

__all__ = ["NgramFeaturizer", "SparseRow", "analyze", "fit_ngrams"]

CHAR_MIN, CHAR_MAX = 2, 5
#: character n-grams come from at most this many leading characters of a word
#: (hashes, base64 and other long tokens would otherwise flood the features)
MAX_WORD_CHARS = 30

#: (feature indices, values): one l2-normalised sparse row
SparseRow = tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]


def _words(text: str) -> list[str]:
    """The lowercased words (maximal runs of word characters) of a text, in order."""
    return word_runs(text.lower())


def analyze(text: str) -> list[str]:
    """Lowercased word 1-2 grams (``w:``) and in-word character 2-5 grams (``c:``)."""
    words = _words(text)
    feats = [f"w:{w}" for w in words]
    feats.extend(f"w:{a} {b}" for a, b in pairwise(words))
    for w in words:
        feats.extend(_word_features(w)[1:])
    return feats


def _word_features(word: str) -> list[str]:
    """The ``w:`` unigram and ``c:`` character n-grams of one (lowercased) word."""
    feats = [f"w:{word}"]
    padded = f" {word[:MAX_WORD_CHARS]} "
    n_chars = len(padded)
    for n in range(CHAR_MIN, CHAR_MAX + 1):
        if n > n_chars:
            break
        feats.extend(f"c:{padded[i : i + n]}" for i in range(n_chars - n + 1))
    return feats


def _counted(values: npt.NDArray[np.int32]) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """``np.unique(values, return_counts=True)`` for a non-empty array, sorting ``values``
    in place: the same arrays without ``np.unique``'s per-call overhead (which is most of
    its cost on a short request's few hundred columns)."""
    values.sort()
    first = np.empty(values.size, dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.empty(starts.size, dtype=np.int64)
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1] = values.size - starts[-1]
    return values[starts], counts


#: distinct words whose feature columns are kept (a bounded per-featurizer cache)
_WORD_CACHE_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class NgramFeaturizer:
    """A fitted vocabulary (feature -> column) and its idf weights (sublinear tf, l2)."""

    terms: tuple[str, ...]
    idf: npt.NDArray[np.float32]
    vocabulary: Mapping[str, int] = field(init=False, repr=False, compare=False)
    #: per column: is it a word (``w:``) feature, not a character n-gram
    word_columns: npt.NDArray[np.bool_] = field(init=False, repr=False, compare=False)
    #: (word, next word) -> the column of that word bigram (looked up without formatting)
    pairs: Mapping[tuple[str, str], int] = field(init=False, repr=False, compare=False)
    #: word -> the vocabulary columns of its features (repeats kept, for tf); int32, which
    #: halves the bytes that every request concatenates and sorts
    _word_cache: dict[str, npt.NDArray[np.int32]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    #: the last (text, row): classify and explain featurize the same text back to back
    _last: list[tuple[str, SparseRow]] = field(
        init=False, repr=False, compare=False, default_factory=list
    )

    def __post_init__(self) -> None:
        if len(self.terms) != self.idf.shape[0]:
            raise ValueError("vocabulary and idf lengths differ")
        object.__setattr__(self, "vocabulary", {t: i for i, t in enumerate(self.terms)})
        words = np.fromiter((t.startswith("w:") for t in self.terms), bool, len(self.terms))
        object.__setattr__(self, "word_columns", words)
        pairs: dict[tuple[str, str], int] = {}
        for t, i in self.vocabulary.items():
            if t.startswith("w:") and " " in t:
                a, b = t[2:].split(" ", 1)
                pairs[a, b] = i
        object.__setattr__(self, "pairs", pairs)

    @property
    def dim(self) -> int:
        return int(self.idf.shape[0])

    def _columns(self, word: str) -> npt.NDArray[np.int32]:
        cols = self._word_cache.get(word)
        if cols is None:
            vocab = self.vocabulary
            found = [vocab[f] for f in _word_features(word) if f in vocab]
            cols = np.asarray(found, dtype=np.int32)
            if len(self._word_cache) >= _WORD_CACHE_SIZE:
                self._word_cache.clear()
            self._word_cache[word] = cols
        return cols

    def transform_one(self, text: str) -> SparseRow:
        """The same row as featurizing :func:`analyze` output, computed word by word:
        a word's character n-grams are looked up once and cached, and word pairs are
        looked up as tuples, so a request costs a few dict lookups per word instead of
        building hundreds of n-gram strings."""
        last = self._last
        if last and last[0][0] == text:
            return last[0][1]
        words = _words(text)
        cached = self._word_cache.get
        parts = [c if (c := cached(w)) is not None else self._columns(w) for w in words]
        pair = self.pairs.get
        bigrams = [j for p in pairwise(words) if (j := pair(p)) is not None]
        parts.append(np.asarray(bigrams, dtype=np.int32))
        cols = np.concatenate(parts)
        row: SparseRow
        if cols.size == 0:
            row = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        else:
            uniq, counts = _counted(cols)
            idx = uniq.astype(np.int64)
            tf = (1.0 + np.log(counts)).astype(np.float32)
            vals = tf * self.idf[idx]
            norm = float(np.sqrt(vals.dot(vals)))  # np.linalg.norm's own computation
            row = idx, (vals / norm if norm > 0 else vals).astype(np.float32)
        last[:] = [(text, row)]
        return row

    def transform(self, texts: Sequence[str]) -> Any:
        """A scipy CSR matrix (rows as :meth:`transform_one`)."""
        from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

        indptr = [0]
        indices: list[npt.NDArray[np.int64]] = []
        data: list[npt.NDArray[np.float32]] = []
        for t in texts:
            idx, vals = self.transform_one(t)
            indices.append(idx)
            data.append(vals)
            indptr.append(indptr[-1] + len(idx))
        return csr_matrix(
            (
                np.concatenate(data) if data else np.zeros(0, np.float32),
                np.concatenate(indices) if indices else np.zeros(0, np.int64),
                np.asarray(indptr),
            ),
            shape=(len(texts), self.dim),
        )

    def to_arrays(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        return {"terms": list(self.terms)}, {"idf": self.idf}

    @classmethod
    def from_arrays(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]
    ) -> NgramFeaturizer:
        terms = tuple(str(t) for t in meta["terms"])
        return cls(terms=terms, idf=np.asarray(arrays["idf"], dtype=np.float32))


def fit_ngrams(texts: Sequence[str], *, min_df: int = 1) -> NgramFeaturizer:
    """Fit the vocabulary and smoothed idf on training texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer=analyze, min_df=min_df, sublinear_tf=True, dtype=np.float32)
    vec.fit(texts)
    terms = tuple(str(t) for t in vec.get_feature_names_out())
    return NgramFeaturizer(terms=terms, idf=np.asarray(vec.idf_, dtype=np.float32))
