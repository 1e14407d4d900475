"""Traces -> scored examples for the learner.

A trace is scored when it has an outcome: feedback (``POST /v1/feedback``) or what a
scorer judged when the answer came (``scoring/``: the answer's contract, a second
opinion); ``score`` (0-1) when given, else ``success`` as 1 or 0.
Only answered traces (status ``ok``) count: the answering model is the one judged. A
failed call says nothing about quality (the executor already fell back), so error
traces are left out.

A second opinion that escalated also says whether the *checked* model was right
(:func:`score_checked`): one more example, for that model.

The learner sees what the router saw, rebuilt from the trace: the operation, the
classifier's confidence and alternatives, complexity, context size and the five
failure-mode scores. Never the prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from switchtower.route.policy import OutcomeExample, features_of
from switchtower.types import FAILURE_MODES, Classification, Signal, Signals, Tier, Trace

__all__ = ["ScoredTrace", "quality_of", "score_checked", "score_trace"]


@dataclass(frozen=True, slots=True)
class ScoredTrace:
    """One judged answer: the example for the learner and the inputs to re-predict it."""

    trace_id: str
    example: OutcomeExample
    classification: Classification
    signals: Signals
    #: who judged it: ``feedback`` or a scorer's name
    source: str = "feedback"


def quality_of(trace: Trace) -> float | None:
    """The outcome in [0, 1], or None when the trace was not judged."""
    out = trace.outcome
    if out is None:
        return None
    if out.score is not None:
        return min(max(float(out.score), 0.0), 1.0)
    if out.success is not None:
        return 1.0 if out.success else 0.0
    return None


def _alternatives(decision: Mapping[str, object]) -> tuple[tuple[str, float], ...]:
    raw = decision.get("alternatives")
    out: list[tuple[str, float]] = []
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, list | tuple) and len(item) == 2:
                op, p = item
                if isinstance(op, str) and isinstance(p, int | float):
                    out.append((op, float(p)))
    return tuple(out)


def _scored(
    trace: Trace, model: str, tier: Tier, *, quality: float, source: str, cost_usd: float
) -> ScoredTrace:
    decision = trace.decision
    context = decision.get("context_tokens")
    classification = Classification(
        operation=trace.operation,
        confidence=trace.confidence,
        alternatives=_alternatives(decision),
    )
    signals = Signals(
        complexity=Signal("complexity", float(trace.signals.get("complexity", 0.0))),
        context_tokens=int(context) if isinstance(context, int | float) else 0,
        deadline=trace.deadline,
        failure_modes={
            name: Signal(name, float(trace.signals.get(name, 0.0))) for name in FAILURE_MODES
        },
    )
    example = OutcomeExample(
        operation=trace.operation,
        features=features_of(classification, signals),
        tier=tier,
        model=model,
        quality=quality,
        cost_usd=cost_usd,
    )
    return ScoredTrace(trace.id, example, classification, signals, source)


def score_trace(trace: Trace, models: Mapping[str, Tier]) -> ScoredTrace | None:
    """The scored example of ``trace``; None when it is not judged, not answered, or its
    model is no longer configured (``models``: configured name -> tier)."""
    quality = quality_of(trace)
    tier = models.get(trace.model)
    if quality is None or trace.status != "ok" or tier is None:
        return None
    source = trace.outcome.source if trace.outcome is not None else "feedback"
    return _scored(
        trace, trace.model, tier, quality=quality, source=source, cost_usd=trace.cost_usd
    )


def score_checked(trace: Trace, models: Mapping[str, Tier]) -> ScoredTrace | None:
    """What an escalation showed about the *checked* model of a second opinion: right
    (1) when the escalated answer gave its final answer, wrong (0) when it gave a
    differing peer's; None when the trace has no such verdict or the model is gone. The
    served answer is the escalation's, so this example is not the trace's outcome."""
    v = trace.decision.get("verification")
    if not isinstance(v, Mapping) or trace.status != "ok" or not v.get("escalated_to"):
        return None
    sided, checked = v.get("sided_with"), v.get("checked")
    tier = models.get(checked) if isinstance(checked, str) else None
    if sided not in ("checked", "peer") or tier is None or not isinstance(checked, str):
        return None
    cost = sum(a.cost_usd for a in trace.attempts if a.model == checked)
    quality = 1.0 if sided == "checked" else 0.0
    return _scored(trace, checked, tier, quality=quality, source="second-opinion", cost_usd=cost)
