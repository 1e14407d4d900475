"""The scoring components a trained classifier combines: each maps texts to class logits.

* :class:`TfidfComponent` (the fast default): word + character n-gram TF-IDF and a
  linear SVM, with weights held as plain arrays so inference needs only numpy.
* :class:`EmbedComponent`: all-MiniLM-L6-v2 sentence embeddings and a multinomial
  logistic regression.

Each component knows how to fit itself (``fit``), score (``logits`` / ``logits_one``),
explain a decision in a few words, and round-trip through plain JSON + numpy arrays.
A registry (``COMPONENTS``) maps kind names to classes, so artifacts name their parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from switchtower.classify.embed import Encoder, MiniLMEncoder
from switchtower.classify.ngrams import NgramFeaturizer, fit_ngrams

__all__ = ["COMPONENTS", "Component", "EmbedComponent", "TfidfComponent"]

F32 = npt.NDArray[np.float32]
#: logit given to a class a fold's model never saw
_ABSENT = -1e4


class Component(Protocol):
    kind: ClassVar[str]

    def logits(self, texts: Sequence[str]) -> F32: ...

    def logits_one(self, text: str) -> F32: ...

    def explain(self, text: str, class_index: int) -> str: ...

    def to_arrays(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]: ...


def _full_weights(
    coef: npt.NDArray[Any], intercept: npt.NDArray[Any], present: npt.NDArray[Any], n: int
) -> tuple[F32, F32]:
    """Spread a model fitted on the classes ``present`` over all ``n`` classes."""
    coef = np.atleast_2d(coef)
    intercept = np.atleast_1d(intercept)
    if len(present) == 2 and coef.shape[0] == 1:  # binary models keep one row
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    weights = np.zeros((coef.shape[1], n), dtype=np.float32)
    bias = np.full(n, _ABSENT, dtype=np.float32)
    weights[:, present] = coef.T
    bias[present] = intercept
    return weights, bias


@dataclass(frozen=True, slots=True)
class TfidfComponent:
    """Sparse n-gram TF-IDF features and a one-vs-rest linear SVM."""

    kind: ClassVar[str] = "tfidf"
    featurizer: NgramFeaturizer
    weights: F32  # (features, classes)
    bias: F32  # (classes,)

    @classmethod
    def fit(
        cls, texts: Sequence[str], y: npt.NDArray[np.int64], n_classes: int, **options: Any
    ) -> TfidfComponent:
        feat = cls.featurize(texts, y, n_classes, **options)
        return cls.fit_matrix(feat, feat.transform(texts), y, n_classes, **options)

    @staticmethod
    def featurize(
        texts: Sequence[str], y: npt.NDArray[np.int64], n_classes: int, **options: Any
    ) -> NgramFeaturizer:
        """Fit the vocabulary (``min_df`` 2 once every class has 10 examples, else 1)."""
        per_class = np.bincount(y[y >= 0], minlength=n_classes)
        few = per_class[per_class > 0].min(initial=0) < 10
        return fit_ngrams(texts, min_df=int(options.get("min_df", 1 if few else 2)))

    @classmethod
    def fit_matrix(
        cls,
        feat: NgramFeaturizer,
        x: Any,
        y: npt.NDArray[np.int64],
        n_classes: int,
        **options: Any,
    ) -> TfidfComponent:
        """Fit the linear SVM on already-featurised rows ``x``."""
        from sklearn.svm import LinearSVC

        present = np.unique(y)
        if len(present) == 1:
            w = np.zeros((feat.dim, n_classes), np.float32)
            b = np.full(n_classes, _ABSENT, np.float32)
            b[present] = 0.0
            return cls(feat, w, b)
        svm = LinearSVC(
            C=float(options.get("C", 1.0)),
            tol=float(options.get("tol", 1e-3)),
            max_iter=int(options.get("max_iter", 300)),
            random_state=0,
        )
        svm.fit(x, y)
        w, b = _full_weights(svm.coef_, svm.intercept_, svm.classes_, n_classes)
        return cls(feat, w, b)

    def logits(self, texts: Sequence[str]) -> F32:
        return self.logits_from_matrix(self.featurizer.transform(texts))

    def logits_from_matrix(self, x: Any) -> F32:
        return np.asarray(x @ self.weights, dtype=np.float32) + self.bias

    def logits_one(self, text: str) -> F32:
        idx, vals = self.featurizer.transform_one(text)
        return (vals @ self.weights[idx] + self.bias).astype(np.float32)

    def explain(self, text: str, class_index: int) -> str:
        """The (up to three) words that pushed the text most towards the class; equal
        pushes (common: the weights are stored as float16) in vocabulary order."""
        idx, vals = self.featurizer.transform_one(text)
        if len(idx) == 0:
            return "no known terms"
        contrib = vals * self.weights[idx, class_index]
        keep = (contrib > 0) & self.featurizer.word_columns[idx]
        if not keep.any():
            return "character patterns"
        cols, contrib = idx[keep], contrib[keep]
        terms = self.featurizer.terms
        words = [terms[int(cols[j])][2:] for j in np.argsort(-contrib, kind="stable")[:3]]
        return "top terms: " + ", ".join(repr(w) for w in words)

    def to_arrays(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        meta, arrays = self.featurizer.to_arrays()
        return meta, {**arrays, "weights": self.weights.astype(np.float16), "bias": self.bias}

    @classmethod
    def from_arrays(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]], **_: Any
    ) -> TfidfComponent:
        feat = NgramFeaturizer.from_arrays(meta, arrays)
        weights = np.asarray(arrays["weights"], dtype=np.float32)
        return cls(feat, weights, np.asarray(arrays["bias"], dtype=np.float32))


@dataclass(frozen=True, slots=True)
class EmbedComponent:
    """MiniLM sentence embeddings and a multinomial logistic regression."""

    kind: ClassVar[str] = "embed"
    weights: F32  # (384, classes)
    bias: F32
    encoder: Encoder = field(default_factory=MiniLMEncoder, compare=False)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        y: npt.NDArray[np.int64],
        n_classes: int,
        *,
        vectors: F32 | None = None,
        encoder: Encoder | None = None,
        **options: Any,
    ) -> EmbedComponent:
        from sklearn.linear_model import LogisticRegression

        enc = encoder or MiniLMEncoder()
        x = vectors if vectors is not None else enc.encode(texts)
        present = np.unique(y)
        if len(present) == 1:
            b = np.full(n_classes, _ABSENT, np.float32)
            b[present] = 0.0
            return cls(np.zeros((x.shape[1], n_classes), np.float32), b, enc)
        lr = LogisticRegression(C=float(options.get("C", 30.0)), max_iter=2000)
        lr.fit(x, y)
        w, b = _full_weights(lr.coef_, lr.intercept_, lr.classes_, n_classes)
        return cls(w, b, enc)

    def logits(self, texts: Sequence[str]) -> F32:
        return self.logits_from_vectors(self.encoder.encode(texts))

    def logits_from_vectors(self, x: F32) -> F32:
        return (x @ self.weights + self.bias).astype(np.float32)

    def logits_one(self, text: str) -> F32:
        row: F32 = self.logits_from_vectors(self.encoder.encode([text]))[0]
        return row

    def explain(self, text: str, class_index: int) -> str:
        return f"{self.encoder.name} embedding"

    def to_arrays(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        meta = {"encoder": self.encoder.name}
        precision = getattr(self.encoder, "precision", None)
        if isinstance(precision, str):  # the head was trained on this encoder's vectors
            meta["precision"] = precision
        return meta, {"weights": self.weights, "bias": self.bias}

    @classmethod
    def from_arrays(
        cls,
        meta: Mapping[str, Any],
        arrays: Mapping[str, npt.NDArray[Any]],
        *,
        encoder: Encoder | None = None,
        **_: Any,
    ) -> EmbedComponent:
        return cls(
            np.asarray(arrays["weights"], dtype=np.float32),
            np.asarray(arrays["bias"], dtype=np.float32),
            # artifacts written before int8 graphs existed were trained on fp32 vectors
            encoder or MiniLMEncoder(precision=str(meta.get("precision", "fp32"))),
        )


COMPONENTS: Mapping[str, type[TfidfComponent] | type[EmbedComponent]] = {
    TfidfComponent.kind: TfidfComponent,
    EmbedComponent.kind: EmbedComponent,
}
