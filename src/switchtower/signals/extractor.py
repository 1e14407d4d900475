"""The ``heuristic`` signal extractor: lexicon rules plus a small learned layer that can
raise a signal the rules missed (``signals/learned.py``); no model call, well under 1 ms."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from switchtower.config.schema import Config
from switchtower.protocols import HistorySource
from switchtower.signals.complexity import complexity
from switchtower.signals.failure_modes import compute_failure_modes, task_text
from switchtower.signals.learned import LearnedSignals, shipped
from switchtower.signals.text import HEAD_CHARS, TAIL_CHARS
from switchtower.tokens import estimate_message_tokens
from switchtower.types import Classification, Request, Signal, Signals

__all__ = ["HeuristicSignalExtractor", "explain_signals"]

log = logging.getLogger(__name__)

Counts = Mapping[str, tuple[float, float]]


def explain_signals(
    failure_modes: Mapping[str, Signal], complexity: Signal, tokens: int, threshold: float
) -> str:
    """A short sentence naming the signals at or above ``threshold``."""
    fired = sorted(
        ((s.score, name) for name, s in failure_modes.items() if s.score >= threshold),
        reverse=True,
    )
    head = f"complexity {complexity.score:.2f}, ~{tokens} tokens"
    if not fired:
        return f"{head}; no failure-mode signal fired"
    names = ", ".join(f"{name} ({score:.2f})" for score, name in fired)
    return f"{head}; fired: {names}"


class HeuristicSignalExtractor:
    """Request + classification -> :class:`~switchtower.types.Signals`.

    ``history`` (optional) supplies per-(operation, tier) and per-(operation, model)
    success counts from traces. A failing history source never fails the request:
    the signals then carry empty history and the explanation says so.
    """

    def __init__(
        self,
        *,
        history: HistorySource | None = None,
        threshold: float = 0.5,
        head_chars: int = HEAD_CHARS,
        tail_chars: int = TAIL_CHARS,
        learned: LearnedSignals | None = None,
    ) -> None:
        self.history = history
        self.threshold = threshold
        self.head_chars = head_chars
        self.tail_chars = tail_chars
        self.learned = learned

    def _history(self, operation: str) -> tuple[Counts, Counts, str]:
        if self.history is None:
            return {}, {}, ""
        try:
            tiers, models = self.history.success_counts(operation)
            return dict(tiers), dict(models), ""
        except Exception as exc:  # observers never break requests (STYLE habit 7)
            log.warning("history unavailable for %r: %s", operation, exc)
            return {}, {}, f"; history unavailable ({type(exc).__name__})"

    def extract(self, request: Request, classification: Classification) -> Signals:
        messages = request.messages
        modes = compute_failure_modes(
            messages=messages, head_chars=self.head_chars, tail_chars=self.tail_chars
        )
        tokens = estimate_message_tokens(messages)
        text = task_text(messages)
        if self.learned is not None:
            modes = self.learned.raise_missed(text, modes, fired=self.threshold)
        cplx = complexity(text, tokens=tokens)
        tiers, models, note = self._history(classification.operation)
        return Signals(
            complexity=cplx,
            context_tokens=tokens,
            deadline=request.deadline,
            failure_modes=modes,
            history=tiers,
            model_history=models,
            explanation=explain_signals(modes, cplx, tokens, self.threshold) + note,
        )


def heuristic_factory(
    *,
    config: Config | None = None,
    history: HistorySource | None = None,
    threshold: float = 0.5,
    head_chars: int = HEAD_CHARS,
    tail_chars: int = TAIL_CHARS,
    learned: bool = True,
) -> HeuristicSignalExtractor:
    """Registry factory: ``options`` from config are ``threshold``, ``head_chars``,
    ``tail_chars`` and ``learned`` (default true: the shipped learned layer; false: the
    rules alone)."""
    del config
    return HeuristicSignalExtractor(
        history=history,
        threshold=threshold,
        head_chars=head_chars,
        tail_chars=tail_chars,
        learned=shipped() if learned else None,
    )
