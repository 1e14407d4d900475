from __future__ import annotations

import pytest

from switchtower.classify import TrainedClassifier, train_classifier
from switchtower.classify.builtin import config_examples
from switchtower.config.load import load_config


@pytest.fixture(scope="session")
def taxonomy_examples() -> tuple[list[str], list[str]]:
    return config_examples(load_config(environ={}))


@pytest.fixture(scope="session")
def taxonomy_model(taxonomy_examples: tuple[list[str], list[str]]) -> TrainedClassifier:
    texts, labels = taxonomy_examples
    return train_classifier(texts, labels, backend="tfidf", seed=0)
