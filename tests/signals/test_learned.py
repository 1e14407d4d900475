"""The learned failure-mode layer: raises what the rules missed, never lowers, ships
an artifact that matches its training data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from switchtower.signals.extractor import HeuristicSignalExtractor, heuristic_factory
from switchtower.signals.learned import LearnedSignals, load_or_none, shipped, train_learned
from switchtower.types import FAILURE_MODES, Classification, Request, Signal

ROOT = Path(__file__).resolve().parents[2]
CLS = Classification(operation="unknown", confidence=0.0)


def _toy() -> LearnedSignals:
    """One head, security_sensitive, taught that the made-up verb 'zorblat' marks it."""
    texts, labels = [], []
    for i in range(30):
        texts.append(f"please zorblat the service number {i} before friday")
        labels.append(frozenset({"security_sensitive"}))
        texts.append(f"please rename the service number {i} before friday")
        labels.append(frozenset())
    scores = [{"security_sensitive": 0.0}] * len(texts)
    return train_learned(texts, labels, scores, ("security_sensitive",))


def _modes(**scores: float) -> dict[str, Signal]:
    return {
        n: Signal(n, scores.get(n, 0.0), ("rule",) if n in scores else ()) for n in FAILURE_MODES
    }


def test_raises_a_signal_the_rules_missed_with_its_evidence() -> None:
    out = _toy().raise_missed("zorblat the billing service", _modes())
    sig = out["security_sensitive"]
    assert sig.score >= 0.5
    assert "learned p=" in sig.evidence[-1]
    assert "'zorblat'" in sig.evidence[-1]
    assert all(out[n].score == 0.0 for n in FAILURE_MODES if n != "security_sensitive")


def test_never_lowers_a_fired_signal_and_leaves_unrelated_text_alone() -> None:
    model = _toy()
    fired = _modes(security_sensitive=0.9)
    assert model.raise_missed("rename the billing service", fired) == fired
    quiet = model.raise_missed("rename the billing service", _modes())
    assert quiet["security_sensitive"].score == 0.0


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = _toy()
    back = LearnedSignals.load(model.save(tmp_path / "m"))
    text = "zorblat it"
    assert back.probabilities(text, {}) == pytest.approx(model.probabilities(text, {}))
    assert back.digest == model.digest


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    path = _toy().save(tmp_path / "m")
    meta = json.loads((path / "learned.json").read_text("utf-8"))
    meta["format_version"] = 99
    (path / "learned.json").write_text(json.dumps(meta), "utf-8")
    with pytest.raises(ValueError, match="format 99"):
        LearnedSignals.load(path)


def test_training_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="positive and negative"):
        train_learned(
            ["add a column", "add a column"], [frozenset()] * 2, [{}, {}], ("risky_migration",)
        )


def test_the_extractor_uses_the_shipped_layer_unless_told_not_to() -> None:
    model = shipped()
    assert model is not None
    assert model.names == FAILURE_MODES
    assert heuristic_factory().learned is model
    assert heuristic_factory(learned=False).learned is None


def test_the_layer_only_adds_to_the_rules() -> None:
    """On every labelled request: each learned score >= the rules' score, and a signal
    the rules fired is untouched."""
    rules, both = HeuristicSignalExtractor(), heuristic_factory()
    raised = 0
    for line in (ROOT / "benchmarks/data/signals_blind2.jsonl").read_text("utf-8").splitlines():
        req = Request.from_text(json.loads(line)["text"])
        a = rules.extract(req, CLS).failure_modes
        b = both.extract(req, CLS).failure_modes
        for n in FAILURE_MODES:
            assert b[n].score >= a[n].score
            if a[n].score >= 0.5:
                assert b[n] == a[n]
            raised += b[n].score >= 0.5 > a[n].score
    assert raised > 0


def test_the_shipped_artifact_matches_its_training_data() -> None:
    """Retraining from benchmarks/data with today's rules reproduces the shipped weights:
    a rule or data change without a retrain fails here."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/train_signals.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_weights_are_finite() -> None:
    model = shipped()
    assert model is not None
    assert np.isfinite(model.weights).all()
    assert np.isfinite(model.rule_weights).all()


@pytest.mark.parametrize("damage", ["truncate", "missing", "garbage-json"])
def test_an_unreadable_artifact_means_rules_only_never_a_crash(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = _toy().save(tmp_path / "m")
    if damage == "truncate":
        data = (path / "learned.npz").read_bytes()
        (path / "learned.npz").write_bytes(data[: len(data) // 2])
    elif damage == "missing":
        (path / "learned.npz").unlink()
    else:
        (path / "learned.json").write_text("{not json", "utf-8")
    assert load_or_none(path) is None
    assert "rules only" in caplog.text
