"""A learned second opinion on the five failure-mode signals.

The lexicon rules are precise but narrow: on requests written by people who never saw
them they miss phrasings (recall 0.5-0.65 on a blind set). This layer is one logistic
regression per signal over word 1-2-gram TF-IDF features of the task text (the
classifier's featurizer, words only) plus the rules' own score, trained offline on the
project's labelled requests (``benchmarks/train_signals.py``). It can **raise** a signal
the rules left below the firing threshold, never lower one: a rule that fired keeps its
score and evidence. A raised score maps the model's probability onto the upper half of
[0, 1] (``threshold`` -> 0.5, 1 -> 1), and its evidence names the probability and the
words that pushed it up.

The artifact is a directory with ``learned.json`` (format version, signal names,
thresholds, vocabulary, training digest) and ``learned.npz`` (idf, weights, rule
weights, biases; loaded with ``allow_pickle=False``). Nothing in it is executable. The
package ships one in ``signals/learned/``; a missing or unreadable artifact logs a
warning and leaves the rules alone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from switchtower.classify.ngrams import NgramFeaturizer, fit_ngrams
from switchtower.signals.text import cap
from switchtower.types import Signal

__all__ = ["FORMAT_VERSION", "LearnedSignals", "load_or_none", "shipped", "train_learned"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
META_FILE = "learned.json"
ARRAYS_FILE = "learned.npz"
#: chosen by leave-one-writer-out validation on the labelled sets (docs/signals.md)
DEFAULT_C = 10.0
DEFAULT_RULE_WEIGHT = 3.0
DEFAULT_THRESHOLD = 0.6
_EVIDENCE_TERMS = 4

Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LearnedSignals:
    """One linear head per signal over a shared word n-gram featurizer."""

    featurizer: NgramFeaturizer
    names: tuple[str, ...]
    weights: Array  # (signals, vocabulary)
    rule_weights: Array  # (signals,): the coefficient of the rules' score
    bias: Array  # (signals,)
    thresholds: Array  # (signals,): probability at which a signal is raised
    digest: str = ""

    def __post_init__(self) -> None:
        k, v = len(self.names), self.featurizer.dim
        if self.weights.shape != (k, v) or not (
            self.rule_weights.shape == self.bias.shape == self.thresholds.shape == (k,)
        ):
            raise ValueError("learned signal arrays do not match the names and vocabulary")

    def probabilities(self, text: str, rule_scores: Mapping[str, float]) -> dict[str, float]:
        """P(signal) per name for a task text, given the rules' scores."""
        idx, vals = self.featurizer.transform_one(cap(text))
        z = self.weights[:, idx] @ vals + self.bias
        rules = np.asarray([rule_scores.get(n, 0.0) for n in self.names], dtype=np.float32)
        z = z + self.rule_weights * rules
        return {n: 1.0 / (1.0 + math.exp(-float(zi))) for n, zi in zip(self.names, z, strict=True)}

    def _terms(self, i: int, text: str) -> list[str]:
        idx, vals = self.featurizer.transform_one(cap(text))
        push = self.weights[i, idx] * vals
        order = np.argsort(-push, kind="stable")[:_EVIDENCE_TERMS]
        terms = self.featurizer.terms
        return [terms[int(idx[j])][2:] for j in order if push[j] > 0]

    def raise_missed(
        self, text: str, modes: Mapping[str, Signal], *, fired: float = 0.5
    ) -> dict[str, Signal]:
        """``modes`` with each signal the rules left below ``fired`` raised where the
        model's probability reaches its threshold; signals already fired are kept."""
        out = dict(modes)
        if not text or all(out[n].score >= fired for n in self.names if n in out):
            return out
        probs = self.probabilities(text, {n: s.score for n, s in out.items()})
        for i, name in enumerate(self.names):
            current = out.get(name)
            t = float(self.thresholds[i])
            p = probs[name]
            if current is None or current.score >= fired or p < t:
                continue
            score = fired + (1.0 - fired) * (p - t) / (1.0 - t) if t < 1.0 else 1.0
            terms = ", ".join(repr(w) for w in self._terms(i, text))
            why = f"learned p={p:.2f} >= {t:.2f}" + (f" ({terms})" if terms else "")
            out[name] = Signal(name, round(min(1.0, score), 4), (*current.evidence, why))
        return out

    # -- artifact -----------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "kind": "switchtower-learned-signals",
            "names": list(self.names),
            "terms": list(self.featurizer.terms),
            "digest": self.digest,
        }
        np.savez_compressed(
            out / ARRAYS_FILE,
            idf=self.featurizer.idf,
            weights=self.weights,
            rule_weights=self.rule_weights,
            bias=self.bias,
            thresholds=self.thresholds,
        )
        (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False) + "\n", "utf-8")
        return out

    @classmethod
    def load(cls, path: str | Path) -> LearnedSignals:
        src = Path(path)
        meta = json.loads((src / META_FILE).read_text("utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{src}: learned signals format {meta.get('format_version')!r}")
        with np.load(src / ARRAYS_FILE, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files}
        featurizer = NgramFeaturizer(terms=tuple(str(t) for t in meta["terms"]), idf=arrays["idf"])
        return cls(
            featurizer=featurizer,
            names=tuple(str(n) for n in meta["names"]),
            weights=arrays["weights"],
            rule_weights=arrays["rule_weights"],
            bias=arrays["bias"],
            thresholds=arrays["thresholds"],
            digest=str(meta.get("digest", "")),
        )


def load_or_none(path: str | Path) -> LearnedSignals | None:
    """The artifact at ``path``, or None (logged) when it cannot be read: a missing,
    truncated or foreign artifact leaves the rules alone, never fails a request."""
    try:
        return LearnedSignals.load(path)
    except Exception as exc:  # any unreadable file (zip, json, shapes): rules only
        log.warning("learned signals at %s unavailable, rules only: %s", path, exc)
        return None


@functools.cache
def shipped() -> LearnedSignals | None:
    """The artifact inside the package (see :func:`load_or_none`)."""
    with resources.as_file(resources.files("switchtower.signals").joinpath("learned")) as path:
        return load_or_none(path)


def training_digest(texts: Sequence[str], labels: Sequence[frozenset[str]], **params: Any) -> str:
    """sha256 of the training data and parameters (recorded in the artifact)."""
    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for t, y in zip(texts, labels, strict=True):
        h.update(json.dumps([t, sorted(y)]).encode())
    return h.hexdigest()


def train_learned(
    texts: Sequence[str],
    labels: Sequence[frozenset[str]],
    rule_scores: Sequence[Mapping[str, float]],
    names: Sequence[str],
    *,
    c: float = DEFAULT_C,
    rule_weight: float = DEFAULT_RULE_WEIGHT,
    threshold: float = DEFAULT_THRESHOLD,
    min_df: int = 2,
) -> LearnedSignals:
    """Fit the heads (scikit-learn, training only) on task texts with their labels and
    the rules' scores for them."""
    from scipy.sparse import csr_matrix, hstack  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression

    if not (len(texts) == len(labels) == len(rule_scores)) or not texts:
        raise ValueError("texts, labels and rule scores must be non-empty and aligned")
    capped = [cap(t) for t in texts]
    full = fit_ngrams(capped, min_df=min_df)
    keep = [i for i, t in enumerate(full.terms) if t.startswith("w:")]
    featurizer = NgramFeaturizer(terms=tuple(full.terms[i] for i in keep), idf=full.idf[keep])
    x = featurizer.transform(capped)
    weights, rule_w, bias = [], [], []
    for name in names:
        y = np.asarray([name in ys for ys in labels])
        if y.all() or not y.any():
            raise ValueError(f"signal {name!r} needs positive and negative examples")
        r = np.asarray([s.get(name, 0.0) for s in rule_scores], dtype=np.float64)
        clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
        clf.fit(hstack([x, csr_matrix(r[:, None] * rule_weight)]).tocsr(), y)
        coef = clf.coef_[0]
        weights.append(coef[:-1])
        rule_w.append(coef[-1] * rule_weight)
        bias.append(clf.intercept_[0])
    k = len(names)
    return LearnedSignals(
        featurizer=featurizer,
        names=tuple(names),
        weights=np.asarray(weights, dtype=np.float32),
        rule_weights=np.asarray(rule_w, dtype=np.float32),
        bias=np.asarray(bias, dtype=np.float32),
        thresholds=np.full(k, threshold, dtype=np.float32),
        digest=training_digest(
            texts, labels, c=c, rule_weight=rule_weight, threshold=threshold, min_df=min_df
        ),
    )
