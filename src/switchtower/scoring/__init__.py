"""Outcomes judged without feedback: each answer's trace gets one when a scorer can
tell (``contract``: the form the request asked for; ``second-opinion``: a second
opinion's verdict). The router's history and the nightly loop learn from them as from
feedback; feedback given later replaces them."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from switchtower.config.schema import Config
from switchtower.protocols import OutcomeScorer
from switchtower.types import Completion, Outcome, Request

__all__ = ["build_scorers", "score_answer"]

log = logging.getLogger(__name__)


def build_scorers(config: Config) -> tuple[OutcomeScorer, ...]:
    """The configured scorers, in order (registry names; unknown names raise)."""
    from switchtower.plugins import load_builtins
    from switchtower.registries import scorers
    from switchtower.registry import config_key

    load_builtins()
    built = []
    for i, c in enumerate(config.scoring.scorers):
        with config_key(f"scoring.scorers[{i}]"):
            built.append(scorers.create(c.name, config=config, **c.options))
    return tuple(built)


def score_answer(
    scorers: Sequence[OutcomeScorer], request: Request, completion: Completion
) -> Outcome | None:
    """The first failure any scorer finds, else the first success, else None. A scorer
    that raises is logged and skipped: scoring never fails a request."""
    success: Outcome | None = None
    for scorer in scorers:
        try:
            outcome = scorer.score(request, completion)
        except Exception:
            log.exception("scorer %r failed on trace %s", type(scorer).__name__, request.id)
            continue
        if outcome is None:
            continue
        if outcome.success is False or (outcome.score is not None and outcome.score <= 0.0):
            return outcome
        if success is None:
            success = outcome
    return success
