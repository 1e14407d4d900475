from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from switchtower.classify import (
    TrainedClassifier,
    load,
    retrain_from_traces,
    train_classifier,
)
from switchtower.errors import DataFormatError
from switchtower.protocols import Classifier
from switchtower.types import UNKNOWN, Request


def test_is_a_classifier_and_labels_obvious_requests(taxonomy_model: TrainedClassifier) -> None:
    assert isinstance(taxonomy_model, Classifier)
    cases = {
        "Please translate this paragraph into German.": "translate",
        "Write pytest unit tests for the parser module.": "write-tests",
        "Summarize this article in three bullet points.": "summarize-document",
    }
    for text, label in cases.items():
        c = taxonomy_model.classify(Request.from_text(text))
        assert c.operation == label, (text, c)
        assert 0.0 < c.confidence <= 1.0
        assert len(c.alternatives) == 3
        assert all(op != label for op, _ in c.alternatives)
        assert c.backend == "tfidf"
        assert c.explanation


def test_bad_input_never_crashes(taxonomy_model: TrainedClassifier) -> None:
    inputs = ["", "   ", "\x00\x01\x02" * 300, "x" * 200_000, "明天的天气怎么样", "🙂" * 50]
    for text in inputs:
        c = taxonomy_model.classify_text(text)
        assert c.operation == UNKNOWN or c.operation in taxonomy_model.labels
        assert 0.0 <= c.confidence <= 1.0
    assert taxonomy_model.classify_text("").operation == UNKNOWN


def test_single_and_batch_scoring_agree(taxonomy_model: TrainedClassifier) -> None:
    texts = ["fix the crash on startup", "what is 2 + 2", "review my pull request"]
    batch = taxonomy_model.predict_proba(texts)
    for row, text in zip(batch, texts, strict=True):
        c = taxonomy_model.classify_text(text)
        if c.operation != UNKNOWN:
            assert taxonomy_model.labels[int(np.argmax(row))] == c.operation
            assert c.confidence == pytest.approx(float(row.max()), rel=1e-4)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, rtol=1e-6)


def test_save_load_round_trip(taxonomy_model: TrainedClassifier, tmp_path: Path) -> None:
    path = taxonomy_model.save(tmp_path / "clf")
    assert sorted(p.name for p in path.iterdir()) == ["arrays.npz", "classifier.json"]
    back = load(path)
    texts = ["refactor this module", "migrate the database to postgres 16"]
    np.testing.assert_allclose(
        back.predict_proba(texts), taxonomy_model.predict_proba(texts), atol=2e-3
    )
    assert back.labels == taxonomy_model.labels
    assert back.threshold == taxonomy_model.threshold


def test_load_rejects_other_formats(taxonomy_model: TrainedClassifier, tmp_path: Path) -> None:
    path = taxonomy_model.save(tmp_path / "clf")
    doc = json.loads((path / "classifier.json").read_text())
    doc["format_version"] = 999
    (path / "classifier.json").write_text(json.dumps(doc))
    with pytest.raises(DataFormatError, match="format"):
        load(path)
    with pytest.raises(DataFormatError):
        load(tmp_path / "missing")


def test_out_of_scope_examples_tune_the_threshold_and_are_not_a_class() -> None:
    texts, labels = [], []
    for word, label in [("pizza", "food"), ("guitar", "music"), ("football", "sport")]:
        for i in range(12):
            texts.append(f"tell me about {word} number {i}")
            labels.append(label)
    for i in range(25):
        texts.append(f"random unrelated gibberish {i} qwzx")
        labels.append("oos")
    model = train_classifier(texts, labels, seed=1)
    assert "oos" not in model.labels
    assert model.info["oos_examples"] == 25
    assert 0.0 < model.threshold < 1.0


def test_retrain_from_traces_adds_a_label(taxonomy_examples: tuple[list[str], list[str]]) -> None:
    texts, labels = taxonomy_examples
    base = list(zip(texts, labels, strict=True))
    traces = [
        (f"book a meeting room for {d} at {h}pm", "book-room")
        for d in ("monday", "tuesday", "friday", "sunday")
        for h in (2, 4, 5)
    ]
    model = retrain_from_traces(traces, base=base)
    assert "book-room" in model.labels
    assert model.classify_text("book a meeting room for thursday at 3pm").operation == "book-room"


def test_training_without_examples_fails_clearly() -> None:
    with pytest.raises(DataFormatError):
        train_classifier(["", "  "], ["a", "b"])
    with pytest.raises(DataFormatError):
        train_classifier(["x"], ["a"], backend="nope")


def test_label_text_reads_label_names_as_words() -> None:
    from switchtower.classify.train import label_text

    assert label_text("card_arrival") == "card arrival"
    assert label_text("fix-bug") == "fix bug"
    assert label_text("changeUserName") == "change user name"
    assert label_text("top_up.by card") == "top up by card"
    assert label_text("A1") == ""
    assert label_text("17") == ""


def test_label_names_are_extra_examples_never_held_out() -> None:
    """With one example per class, a request that only matches the label's own words is
    labelled right only when the label names are trained on."""
    texts = ["my parcel never came", "the screen flickers at night", "send me the invoice"]
    labels = ["delivery_missing", "display_problem", "billing_document"]
    probe = "display problem"
    with_names = train_classifier(texts, labels, backend="tfidf", folds=2)
    without = train_classifier(texts, labels, backend="tfidf", folds=2, label_names=False)
    assert with_names.info["label_name_examples"] == 3
    assert with_names.info["examples"] == 3
    assert without.info["label_name_examples"] == 0
    p_with = with_names.predict_proba([probe])[0]
    p_without = without.predict_proba([probe])[0]
    col = with_names.labels.index("display_problem")
    assert p_with.argmax() == col
    assert p_with[col] > p_without[col]
