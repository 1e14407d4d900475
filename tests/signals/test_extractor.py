"""The extractor through the real registry: history plumbing, deadline, explanation."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

import switchtower.signals.builtin  # noqa: F401  (registers "heuristic")
from switchtower.config.schema import Config
from switchtower.errors import RegistryError, TraceStoreError
from switchtower.protocols import SignalExtractor
from switchtower.registries import signal_extractors
from switchtower.tokens import estimate_message_tokens
from switchtower.types import Classification, Request

Counts = Mapping[str, tuple[float, float]]


class FakeHistory:
    """Speaks HistorySource: success counts per tier and per model for one operation."""

    def __init__(self, data: Mapping[str, tuple[Counts, Counts]]) -> None:
        self.data = data
        self.asked: list[str] = []

    def success_counts(self, operation: str) -> tuple[Counts, Counts]:
        self.asked.append(operation)
        return self.data.get(operation, ({}, {}))


class BrokenHistory:
    def success_counts(self, operation: str) -> tuple[Counts, Counts]:
        raise TraceStoreError("database is down")


def _make(history: object = None, **options: object) -> SignalExtractor:
    return signal_extractors.create("heuristic", config=Config(), history=history, **options)


def test_registered_and_speaks_the_protocol() -> None:
    assert isinstance(_make(), SignalExtractor)


def test_unknown_option_is_a_registry_error() -> None:
    with pytest.raises(RegistryError):
        _make(nonsense=1)


def test_history_comes_from_the_source_for_the_classified_operation() -> None:
    tiers = {"local": (3.0, 10.0), "realtime": (9.0, 10.0)}
    models = {"gpt-4.1-mini": (9.0, 10.0)}
    history = FakeHistory({"fix-bug": (tiers, models)})
    sig = _make(history).extract(Request.from_text("Fix the crash"), Classification("fix-bug", 0.9))
    assert history.asked == ["fix-bug"]
    assert sig.history == tiers
    assert sig.model_history == models


def test_no_history_source_gives_empty_history() -> None:
    sig = _make().extract(Request.from_text("hi"), Classification("x", 0.5))
    assert sig.history == {}
    assert sig.model_history == {}


def test_failing_history_degrades_and_says_so() -> None:
    sig = _make(BrokenHistory()).extract(Request.from_text("hi"), Classification("x", 0.5))
    assert sig.history == {}
    assert "history unavailable" in sig.explanation


def test_deadline_tokens_and_explanation() -> None:
    req = Request(
        messages=(
            {"role": "system", "content": "You are a careful ops agent."},
            {"role": "user", "content": "Drop the audit table in production."},
        ),
        deadline="batch",
    )
    sig = _make().extract(req, Classification("ops", 0.8))
    assert sig.deadline == "batch"
    assert sig.context_tokens == estimate_message_tokens(req.messages)
    assert "high_consequence_write" in sig.explanation
    quiet = _make().extract(Request.from_text("Say hello."), Classification("x", 0.5))
    assert "no failure-mode signal fired" in quiet.explanation


def test_threshold_option_changes_the_explanation_only() -> None:
    req = Request.from_text("How do I force push a branch?")
    low = _make(threshold=0.05).extract(req, Classification("x", 0.5))
    high = _make().extract(req, Classification("x", 0.5))
    assert low.failure_modes == high.failure_modes
    assert "high_consequence_write" in low.explanation
    assert "high_consequence_write" not in high.explanation
