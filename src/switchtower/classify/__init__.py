"""The skill classifier: request -> operation label, calibrated confidence, or ``unknown``.

Public API::

    model = train_classifier(texts, labels, backend="tfidf", seed=0)
    model.classify(request)            # -> Classification
    model.save("artifacts/classifier") # JSON + .npz, no pickle
    model = load("artifacts/classifier")
    model = retrain_from_traces([(text, label), ...], base=examples)
"""

from __future__ import annotations

from switchtower.classify.embed import embed_available
from switchtower.classify.evaluate import evaluate, read_examples, sample_shots
from switchtower.classify.model import FORMAT_VERSION, TrainedClassifier, load, save
from switchtower.classify.text import MAX_CHARS, prepare_text
from switchtower.classify.train import BACKENDS, OOS_LABELS, retrain_from_traces, train_classifier

__all__ = [
    "BACKENDS",
    "FORMAT_VERSION",
    "MAX_CHARS",
    "OOS_LABELS",
    "TrainedClassifier",
    "embed_available",
    "evaluate",
    "load",
    "prepare_text",
    "read_examples",
    "retrain_from_traces",
    "sample_shots",
    "save",
    "train_classifier",
]
