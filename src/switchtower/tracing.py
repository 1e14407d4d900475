"""Turn a decision and its outcome into a :class:`Trace` and hand it to the store.

An observer: a failed trace write never fails the request. Failures are counted
(``TraceRecorder.write_failures``, exported as a metric by the gateway) and logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from switchtower.config.schema import Config
from switchtower.errors import SwitchtowerError
from switchtower.protocols import ModelInfo, OutcomeScorer, TraceStore
from switchtower.scoring import build_scorers, score_answer
from switchtower.types import Attempt, Completion, Decision, Outcome, Request, Trace, Usage

__all__ = ["TraceRecorder", "build_trace", "settle_trace"]

log = logging.getLogger(__name__)


def build_trace(
    decision: Decision,
    completion: Completion | None,
    latency_ms: float,
    *,
    frontier: ModelInfo | None,
    store_prompt: bool,
    attempts: Sequence[Attempt] = (),
    error: SwitchtowerError | None = None,
    status: Literal["ok", "error", "cancelled", "queued"] | None = None,
    api_key_id: str | None = None,
    outcome: Outcome | None = None,
) -> Trace:
    req, c, r, s = decision.request, decision.classification, decision.route, decision.selection
    all_attempts = tuple(completion.attempts) if completion is not None else tuple(attempts)
    usage = completion.usage if completion is not None else Usage()
    cost = sum(a.cost_usd for a in all_attempts) if all_attempts else 0.0
    if completion is not None:
        cost = max(cost, completion.cost_usd)
    # the counterfactual: the same tokens (and prompt-cache hits) at the most expensive
    # real-time model; before an answer, the request's estimated size
    sized = (
        usage
        if usage.input_tokens
        else replace(usage, input_tokens=decision.signals.context_tokens)
    )
    counterfactual = frontier.usage_cost(sized) if frontier is not None else 0.0
    if not s.model:  # refused before any model was chosen: no spend to compare with
        counterfactual = 0.0
    if status is None:
        status = "ok" if completion is not None and error is None else "error"
    answered_by = completion.model if completion is not None else s.model
    return Trace(
        id=req.id,
        created_at=req.received_at,
        request_digest=req.digest,
        operation=c.operation,
        confidence=c.confidence,
        tier=completion.tier if completion is not None else r.tier,
        model=answered_by,
        deadline=req.deadline,
        signals={
            "complexity": decision.signals.complexity.score,
            **{k: v.score for k, v in decision.signals.failure_modes.items()},
        },
        decision=_decision_json(decision, completion),
        attempts=all_attempts,
        status=status,
        error_kind=error.kind if error is not None else None,
        usage=usage,
        cost_usd=cost,
        counterfactual_cost_usd=counterfactual,
        latency_ms=latency_ms,
        policy_version=r.policy_version,
        experiment=s.experiment,
        arm=s.arm,
        api_key_id=api_key_id,
        prompt=req.text if store_prompt else None,
        outcome=outcome,
    )


def settle_trace(
    planned: Trace,
    completion: Completion | None,
    attempts: Sequence[Attempt],
    latency_ms: float,
    *,
    frontier: ModelInfo | None,
    error_kind: str | None = None,
    outcome: Outcome | None = None,
) -> Trace:
    """A deferred request's planned trace (status ``queued``) completed by its answer:
    who answered, every attempt (the batch's included), tokens, cost, latency, and the
    answer's ``outcome`` when a scorer judged it."""
    usage = completion.usage if completion is not None else Usage()
    cost = sum(a.cost_usd for a in attempts)
    if completion is not None:
        cost = max(cost, completion.cost_usd)
    counterfactual = planned.counterfactual_cost_usd
    if frontier is not None and completion is not None:
        counterfactual = frontier.usage_cost(usage)
    return replace(
        planned,
        tier=completion.tier if completion is not None else planned.tier,
        model=completion.model if completion is not None else planned.model,
        attempts=tuple(attempts),
        status="ok" if completion is not None else "error",
        error_kind=None if completion is not None else (error_kind or "all_models_failed"),
        usage=usage,
        cost_usd=cost,
        counterfactual_cost_usd=counterfactual,
        latency_ms=latency_ms,
        outcome=outcome if completion is not None else planned.outcome,
    )


def _decision_json(decision: Decision, completion: Completion | None) -> dict[str, Any]:
    out = decision.to_json()
    if completion is not None and completion.verification is not None:
        out["verification"] = completion.verification.to_json()
    if completion is not None and completion.cached is not None:
        out["cache"] = {"hit": True, "key": completion.cached}
    return out


class TraceRecorder:
    """Writes one trace per request, with the outcome the configured scorers give an
    answer (``scoring/``); never raises to the caller."""

    def __init__(self, config: Config, store: TraceStore | None, frontier: ModelInfo | None):
        self.store = store
        self.frontier = frontier
        self.store_prompts = config.storage.store_prompts
        self.scorers: tuple[OutcomeScorer, ...] = build_scorers(config)
        self.write_failures = 0
        self.written = 0

    def score(self, request: Request, completion: Completion | None) -> Outcome | None:
        """The answer's outcome from the scorers; None for no answer or a cache hit (the
        answer was scored when a model gave it)."""
        if completion is None or completion.cached is not None or not self.scorers:
            return None
        return score_answer(self.scorers, request, completion)

    def record(
        self,
        decision: Decision,
        completion: Completion | None,
        latency_ms: float,
        *,
        attempts: Sequence[Attempt] = (),
        error: SwitchtowerError | None = None,
        status: Literal["ok", "error", "cancelled", "queued"] | None = None,
        api_key_id: str | None = None,
    ) -> str:
        trace = build_trace(
            decision,
            completion,
            latency_ms,
            frontier=self.frontier,
            store_prompt=self.store_prompts,
            attempts=attempts,
            error=error,
            status=status,
            api_key_id=api_key_id,
            outcome=(
                self.score(decision.request, completion)
                if error is None and status in (None, "ok")
                else None
            ),
        )
        if self.store is None:
            return trace.id
        started = time.perf_counter()
        try:
            self.store.write(trace)
        except Exception:
            self.write_failures += 1
            log.exception(
                "trace %s could not be written (failures so far: %d)", trace.id, self.write_failures
            )
        else:
            self.written += 1
            log.debug(
                "trace %s written in %.2f ms", trace.id, (time.perf_counter() - started) * 1000
            )
        return trace.id
