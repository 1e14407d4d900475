"""Training: fit the components, calibrate on held-out folds, tune the unknown threshold.

Cross-validation does double duty. Examples are split into ``folds`` stratified folds
and classes into as many groups; the model for fold ``k`` trains without fold ``k`` and
without the classes of group ``k``. Held-out examples of the other classes give
out-of-fold logits (for the temperature and, in the hybrid, the mixing weight); held-out
examples of group ``k`` were never seen as a class, so they stand in for out-of-scope
requests (together with any examples labelled ``oos``) when the threshold is chosen.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from switchtower.classify.calibrate import ece, fit_temperature, log_softmax, pick_threshold
from switchtower.classify.components import COMPONENTS, Component, EmbedComponent, TfidfComponent
from switchtower.classify.embed import Encoder, MiniLMEncoder
from switchtower.classify.model import REJECT_LABEL, TrainedClassifier
from switchtower.classify.ngrams import NgramFeaturizer
from switchtower.classify.text import prepare_text, text_rules
from switchtower.errors import DataFormatError
from switchtower.types import UNKNOWN

__all__ = [
    "BACKENDS",
    "OOS_LABELS",
    "examples_digest",
    "label_text",
    "retrain_from_traces",
    "train_classifier",
]

#: backend name -> the component kinds it combines
BACKENDS: Mapping[str, tuple[str, ...]] = {
    "tfidf": ("tfidf",),
    "embed": ("embed",),
    "hybrid": ("tfidf", "embed"),
}
#: labels that mark an example as out of scope (used for the threshold, never a class)
OOS_LABELS = frozenset({"oos", "out_of_scope", "out-of-scope", UNKNOWN})
_MIX_GRID = tuple(i / 10 for i in range(11))
#: changes whenever training would give a different model from the same examples
#: (part of every cache key): v2 = label-name examples, int8 MiniLM graph; v3 = the
#: threshold by the one-standard-error rule; v4 = the instruction rule of ``text.py``;
#: v5 = the text rules' constants are part of the key too (v4 artifacts cached before
#: ``INSTRUCTION_REPEATS`` went from 1 to 3 were reused with the new rule)
_RECIPE = 5
#: the unknown threshold is the lowest within this many standard errors of the best
#: held-out score (:func:`pick_threshold`)
THRESHOLD_STANDARD_ERRORS = 0.5
_SEPARATORS = re.compile(r"[\s_\-./:]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_WORD = re.compile(r"[^\W\d_]{2,}")


def examples_digest(texts: Sequence[str], labels: Sequence[str], **params: Any) -> str:
    """sha256 of the examples and training parameters (cache key, provenance)."""
    h = hashlib.sha256()
    for t, y in zip(texts, labels, strict=True):
        h.update(f"{y}\x1f{t}\x1e".encode())
    recipe = {"_recipe": _RECIPE, "_text": text_rules()}
    h.update(repr(sorted({**params, **recipe}.items())).encode())
    return h.hexdigest()


def label_text(label: str) -> str:
    """A label name read as words (``card_arrival`` -> ``card arrival``, ``fix-bug`` ->
    ``fix bug``, ``changeUserName`` -> ``change user name``); ``""`` when it has no word
    of two letters or more (``A1``, ``17``), which would only add noise."""
    words = _SEPARATORS.sub(" ", _CAMEL.sub(" ", label)).strip().lower()
    return words if _WORD.search(words) else ""


@dataclass(frozen=True, slots=True)
class _Data:
    texts: list[str]
    y: npt.NDArray[np.int64]  # -1 = out of scope
    labels: tuple[str, ...]
    #: rows every model trains on and none is scored on (the label-name examples)
    anchor: npt.NDArray[np.bool_]
    vectors: npt.NDArray[np.float32] | None
    #: the n-gram vocabulary fitted once on every training text, and all rows featurised
    ngrams: tuple[NgramFeaturizer, Any] | None


def _prepare(
    texts: Sequence[str],
    labels: Sequence[str],
    kinds: Sequence[str],
    encoder: Encoder | None,
    options: Mapping[str, Any],
    *,
    label_names: bool,
) -> tuple[_Data, Encoder | None]:
    if len(texts) != len(labels):
        raise DataFormatError(f"{len(texts)} texts but {len(labels)} labels")
    rows = [(prepare_text(t), str(y).strip()) for t, y in zip(texts, labels, strict=True)]
    rows = [(t, y) for t, y in rows if t and y]
    names = tuple(sorted({y for _, y in rows if y not in OOS_LABELS}))
    if not names:
        raise DataFormatError("no labelled in-scope examples to train on")
    index = {n: i for i, n in enumerate(names)}
    n_rows = len(rows)
    if label_names:
        rows += [(text, n) for n in names if n != REJECT_LABEL and (text := label_text(n))]
    anchor = np.arange(len(rows)) >= n_rows
    y = np.array([index.get(lab, -1) for _, lab in rows], dtype=np.int64)
    clean = [t for t, _ in rows]
    enc = None
    vectors = None
    if "embed" in kinds:
        enc = encoder or MiniLMEncoder()
        vectors = enc.encode(clean)
    ngrams = None
    if "tfidf" in kinds:
        feat = TfidfComponent.featurize(clean, y, len(names), **options.get("tfidf", {}))
        ngrams = (feat, feat.transform(clean))
    return _Data(clean, y, names, anchor, vectors, ngrams), enc


def _assign_folds(
    y: npt.NDArray[np.int64],
    n_classes: int,
    folds: int,
    rng: np.random.Generator,
    anchor: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per-example fold (-1: always trained on) and per-class held-out group."""
    fold = np.full(len(y), -1, dtype=np.int64)
    for c in range(-1, n_classes):
        idx = np.flatnonzero((y == c) & ~anchor)
        if c >= 0 and len(idx) < 2:
            continue
        rng.shuffle(idx)
        fold[idx] = (np.arange(len(idx)) + rng.integers(folds)) % folds
    group = rng.permutation(n_classes) % folds
    return fold, group.astype(np.int64)


def _fit(
    kind: str,
    data: _Data,
    idx: npt.NDArray[np.int64],
    enc: Encoder | None,
    options: Mapping[str, Any],
) -> Component:
    texts = [data.texts[i] for i in idx]
    n = len(data.labels)
    opts = dict(options.get(kind, {}))
    if kind == "tfidf" and data.ngrams is not None:
        feat, x = data.ngrams
        return TfidfComponent.fit_matrix(feat, x[idx], data.y[idx], n, **opts)
    if kind == "embed":
        assert data.vectors is not None
        return EmbedComponent.fit(
            texts, data.y[idx], n, vectors=data.vectors[idx], encoder=enc, **opts
        )
    return COMPONENTS[kind].fit(texts, data.y[idx], n, **opts)


def _score(comp: Component, data: _Data, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    if isinstance(comp, EmbedComponent):
        assert data.vectors is not None
        return comp.logits_from_vectors(data.vectors[idx])
    if isinstance(comp, TfidfComponent) and data.ngrams is not None:
        return comp.logits_from_matrix(data.ngrams[1][idx])
    return comp.logits([data.texts[i] for i in idx])


def _nll(z: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> float:
    return float(-log_softmax(z)[np.arange(len(y)), y].mean()) if len(y) else 0.0


def train_classifier(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    backend: str = "tfidf",
    seed: int = 0,
    folds: int | None = None,
    oos_share: float = 0.2,
    min_real_oos: int = 20,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    encoder: Encoder | None = None,
    log: Callable[[str], None] | None = None,
    label_names: bool = True,
) -> TrainedClassifier:
    """Train, calibrate and threshold a classifier from labelled texts.

    Labels in :data:`OOS_LABELS` mark out-of-scope examples: they tune the unknown
    threshold and are never a class; with fewer than ``min_real_oos`` of them, held-out
    classes stand in for out-of-scope requests. The threshold maximises accuracy on a
    mix of in-scope and out-of-scope traffic where ``oos_share`` of requests are out of
    scope (an in-scope request rejected as ``unknown`` counts as wrong).
    ``options`` maps component kind (``tfidf``, ``embed``) to its fitting options
    (``C``, ``min_df``). With ``label_names`` each class's name read as words
    (:func:`label_text`) is one more training example of it, never held out.
    """
    if backend not in BACKENDS:
        raise DataFormatError(f"unknown classifier backend {backend!r}; known: {sorted(BACKENDS)}")
    started = time.perf_counter()
    kinds = BACKENDS[backend]
    opts = options or {}
    say = log or (lambda _msg: None)
    data, enc = _prepare(texts, labels, kinds, encoder, opts, label_names=label_names)
    n_classes = len(data.labels)
    if not any(label != REJECT_LABEL for label in data.labels):
        raise DataFormatError("the training data has no label: nothing to classify into")
    k = folds or (3 if len(data.y) > 5000 else 4)

    known = data.y >= 0
    y_in, z_in, z_oos = _cross_validate(data, kinds, k, seed, enc, opts, min_real_oos, say)
    reject = data.labels.index(REJECT_LABEL) if REJECT_LABEL in data.labels else None
    cal = _calibrate(z_in, z_oos, y_in, oos_share, reject)
    threshold = cal.threshold

    everything = np.flatnonzero(known)
    final = tuple(_fit(kind, data, everything, enc, opts) for kind in kinds)
    info = {
        "trained_at": time.time(),
        "examples": int((known & ~data.anchor).sum()),
        "label_name_examples": int(data.anchor.sum()),
        "oos_examples": int((~known).sum()),
        "examples_sha256": examples_digest(
            texts, labels, backend=backend, seed=seed, label_names=label_names
        ),
        "seed": seed,
        "folds": k,
        "mix": list(cal.mix),
        **cal.stats,
        "train_seconds": time.perf_counter() - started,
    }
    say(
        f"trained {backend} on {info['examples']} examples, {n_classes} labels in "
        f"{info['train_seconds']:.1f}s; threshold {threshold:.3f}"
    )
    return TrainedClassifier(
        labels=data.labels,
        components=final,
        logit_weights=cal.weights,
        temperature=cal.temperature,
        threshold=threshold,
        backend=backend,
        info=info,
    )


def _cross_validate(  # noqa: PLR0917
    data: _Data,
    kinds: Sequence[str],
    k: int,
    seed: int,
    enc: Encoder | None,
    opts: Mapping[str, Any],
    min_real_oos: int,
    say: Callable[[str], None],
) -> tuple[npt.NDArray[np.int64], list[npt.NDArray[np.float64]], list[npt.NDArray[np.float64]]]:
    """Out-of-fold logits per component: in-scope rows (with labels) and out-of-scope rows."""
    n_classes = len(data.labels)
    fold, group = _assign_folds(data.y, n_classes, k, np.random.default_rng(seed), data.anchor)
    known = data.y >= 0
    in_rows: list[npt.NDArray[np.int64]] = []
    parts_in: list[list[npt.NDArray[np.float32]]] = [[] for _ in kinds]
    parts_oos: list[list[npt.NDArray[np.float32]]] = [[] for _ in kinds]
    # pass 1: stratified folds over all classes (real out-of-scope rows scored too)
    use_real_oos = int((~known).sum()) >= min_real_oos
    for f in range(k):
        train_idx = np.flatnonzero(known & (fold != f))
        test_in = np.flatnonzero(known & (fold == f))
        test_oos = np.flatnonzero(~known & (fold == f)) if use_real_oos else test_in[:0]
        if len(train_idx) == 0 or len(test_in) + len(test_oos) == 0:
            continue
        for j, kind in enumerate(kinds):
            comp = _fit(kind, data, train_idx, enc, opts)
            parts_in[j].append(_score(comp, data, test_in))
            parts_oos[j].append(_score(comp, data, test_oos))
        in_rows.append(test_in)
        say(f"fold {f + 1}/{k}: trained on {len(train_idx)}, held out {len(test_in)}")
    # pass 2 (no real out-of-scope data): classes never seen stand in for out-of-scope
    if not use_real_oos and n_classes > 1:
        for f in range(k):
            held_class = known & (group[np.maximum(data.y, 0)] == f)
            train_idx = np.flatnonzero(known & (fold != f) & ~held_class)
            test_oos = np.flatnonzero((fold == f) & held_class)
            if len(train_idx) == 0 or len(test_oos) == 0:
                continue
            for j, kind in enumerate(kinds):
                comp = _fit(kind, data, train_idx, enc, opts)
                parts_oos[j].append(_score(comp, data, test_oos))
            say(f"unseen-class fold {f + 1}/{k}: {len(test_oos)} stand-in out-of-scope")
    y_in = data.y[np.concatenate(in_rows)] if in_rows else np.zeros(0, np.int64)

    def stack(parts: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float64]:
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, n_classes))

    return y_in, [stack(p) for p in parts_in], [stack(p) for p in parts_oos]


@dataclass(frozen=True, slots=True)
class _Calibration:
    mix: tuple[float, ...]
    weights: tuple[float, ...]
    temperature: float
    threshold: float
    stats: dict[str, float | None]


def _calibrate(
    z_in: Sequence[npt.NDArray[np.float64]],
    z_oos: Sequence[npt.NDArray[np.float64]],
    y_in: npt.NDArray[np.int64],
    oos_share: float,
    reject: int | None = None,
) -> _Calibration:
    """Per-component temperatures, the mixing weight, the final temperature, the threshold.

    With a ``reject`` class (:data:`REJECT_LABEL`), its examples count as out of scope
    and a row it wins is rejected whatever the threshold."""
    temps = [fit_temperature(z, y_in) for z in z_in]
    mix: tuple[float, ...] = (1.0,) * len(z_in)
    if len(z_in) == 2:
        best = min(_MIX_GRID, key=lambda w: _mixed_nll(z_in, temps, (w, 1 - w), y_in))
        mix = (best, 1 - best)
    weights = tuple(m / t for m, t in zip(mix, temps, strict=True))
    combined_in = np.asarray(_weighted(z_in, weights))
    temperature = fit_temperature(combined_in, y_in)
    p_in = np.exp(log_softmax(combined_in / temperature))
    p_oos = np.exp(log_softmax(np.asarray(_weighted(z_oos, weights)) / temperature))
    conf_in, conf_oos = _kept_confidence(p_in, reject), _kept_confidence(p_oos, reject)
    correct = p_in.argmax(axis=1) == y_in if len(p_in) else np.zeros(0, bool)
    if reject is not None:  # the reject class's own examples are out of scope
        ours = y_in == reject
        conf_oos = np.concatenate([conf_oos, conf_in[ours]])
        conf_in, correct = conf_in[~ours], correct[~ours]
    share = min(max(oos_share, 0.0), 0.95)
    threshold = pick_threshold(
        conf_in,
        correct,
        conf_oos,
        oos_weight=share / (1 - share),
        standard_errors=THRESHOLD_STANDARD_ERRORS,
    )
    stats: dict[str, float | None] = {
        "cv_accuracy": float(correct.mean()) if len(correct) else None,
        "cv_ece": ece(conf_in, correct) if len(correct) else None,
        "cv_oos_recall": float((conf_oos < threshold).mean()) if len(conf_oos) else None,
    }
    return _Calibration(mix, weights, temperature, threshold, stats)


def _kept_confidence(p: npt.NDArray[np.float64], reject: int | None) -> npt.NDArray[np.float64]:
    """Best in-scope probability per row; 0 where the reject class wins."""
    if len(p) == 0:
        return np.zeros(0)
    if reject is None:
        return np.asarray(p.max(axis=1))
    rest = np.delete(p, reject, axis=1)
    return np.where(p.argmax(axis=1) == reject, 0.0, rest.max(axis=1))


def _weighted(parts: Sequence[npt.NDArray[np.float64]], w: Sequence[float]) -> Any:
    return sum((wi * p for wi, p in zip(w, parts, strict=True)), start=np.zeros_like(parts[0]))


def _mixed_nll(
    parts: Sequence[npt.NDArray[np.float64]],
    temps: Sequence[float],
    mix: Sequence[float],
    y: npt.NDArray[np.int64],
) -> float:
    """NLL of a mix of temperature-scaled logits, itself temperature-scaled."""
    if len(y) == 0:
        return 0.0
    z = np.asarray(_weighted(parts, [m / t for m, t in zip(mix, temps, strict=True)]))
    return _nll(z / fit_temperature(z, y), y)


def retrain_from_traces(
    pairs: Iterable[tuple[str, str]], *, base: Iterable[tuple[str, str]] = (), **kwargs: Any
) -> TrainedClassifier:
    """Retrain from labelled traces ``(text, label)`` plus optional base examples."""
    rows = [*base, *pairs]
    return train_classifier([t for t, _ in rows], [y for _, y in rows], **kwargs)
