"""Loaders for the shared intent datasets (reads ../shared/data; skipped when absent)."""

from __future__ import annotations

import pytest

from switchtower.classify.evaluate import DATASETS, data_dir, sample_shots

pytestmark = pytest.mark.data


@pytest.fixture
def root():  # type: ignore[no-untyped-def]
    path = data_dir()
    if not (path / "intent").is_dir():
        pytest.skip(f"shared data not found at {path} (set SWITCHTOWER_DATA_DIR)")
    return path


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_dataset_shortcuts_load(root, name: str) -> None:  # type: ignore[no-untyped-def]
    (texts, labels), (test_texts, test_labels) = DATASETS[name](root)
    assert len(texts) == len(labels) > 1000
    assert len(test_texts) == len(test_labels) > 1000
    few, few_labels = sample_shots(texts, labels, 5, seed=0)
    assert len(few) == 5 * len(set(labels))
    assert sample_shots(texts, labels, 5, seed=0) == (few, few_labels)
