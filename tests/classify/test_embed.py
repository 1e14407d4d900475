"""The embedding and hybrid backends (extra `embed`; skipped when it is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from switchtower.classify import embed_available, load, train_classifier

pytestmark = [
    pytest.mark.embed,
    pytest.mark.skipif(not embed_available(), reason="needs the `embed` extra"),
]


def test_hybrid_trains_saves_and_loads(
    taxonomy_examples: tuple[list[str], list[str]], tmp_path: Path
) -> None:
    keep = {"translate", "fix-bug", "answer-question", "write-docs"}
    rows = [(t, y) for t, y in zip(*taxonomy_examples, strict=True) if y in keep]
    texts, labels = [t for t, _ in rows], [y for _, y in rows]
    model = train_classifier(texts, labels, backend="hybrid", seed=0, folds=2)
    c = model.classify_text("Could you render this letter in Italian?")
    assert c.operation == "translate"
    assert c.backend == "hybrid"
    back = load(model.save(tmp_path / "h"))
    meta = json.loads((tmp_path / "h" / "classifier.json").read_text("utf-8"))
    assert meta["components"][1]["meta"] == {"encoder": "all-MiniLM-L6-v2", "precision": "int8"}
    assert back.components[1].encoder.precision == "int8"  # type: ignore[attr-defined]
    probe = ["fix the failing build", "how tall is mount everest"]
    np.testing.assert_allclose(back.predict_proba(probe), model.predict_proba(probe), atol=2e-3)
