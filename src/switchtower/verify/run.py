"""Run a checked request: the chosen model and its second opinions in parallel.

1. The chosen model (with its usual fallbacks) and each peer (its own retries, no
   fallback) answer the same request concurrently.
2. The chosen answer stands when a peer gives the same final answer and none gives
   another (``agree``), or when no peer gave a comparable answer (``unverified``: a
   failed peer, an answer without a final answer, or the chosen model failed over to
   another tier's model, whose answer is not the cheap one being checked).
3. A peer with another final answer (``disagree``) sends the request to the escalation
   models, in order. If they all fail, the cheap answer stands, and the trace says so.

The returned completion carries every attempt (the peers' and the escalation's too),
its ``cost_usd`` is everything spent on this answer, and ``verification`` says what
happened. When the chosen model and its fallbacks all fail, the error carries the peers'
attempts as well.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from switchtower.errors import AllModelsFailedError
from switchtower.execute import Executor
from switchtower.protocols import ModelInfo
from switchtower.types import Completion, Request, Verification
from switchtower.verify.answers import agreement

__all__ = ["execute_checked"]


async def execute_checked(
    executor: Executor,
    request: Request,
    candidates: Sequence[ModelInfo],
    peers: Sequence[ModelInfo],
    escalation: Sequence[ModelInfo],
) -> Completion:
    """The checked answer (see the module docstring)."""
    tasks = [
        executor.execute(request, candidates),
        *(executor.execute(request, [p]) for p in peers),
    ]
    first, *others = await asyncio.gather(*tasks, return_exceptions=True)
    answered = [o for o in others if isinstance(o, Completion)]
    peer_attempts = tuple(
        a
        for o in others
        for a in (o.attempts if isinstance(o, Completion) else getattr(o, "attempts", ()))
    )
    if isinstance(first, BaseException):
        if isinstance(first, AllModelsFailedError):
            raise AllModelsFailedError(str(first), (*first.attempts, *peer_attempts)) from first
        raise first
    checked = candidates[0] if candidates else None
    spent = first.cost_usd + sum(o.cost_usd for o in answered)
    attempts = (*first.attempts, *peer_attempts)

    def result(
        completion: Completion, verification: Verification, extra: float = 0.0
    ) -> Completion:
        return dataclasses.replace(
            completion,
            attempts=attempts + completion.attempts if completion is not first else attempts,
            cost_usd=spent + extra,
            verification=verification,
        )

    if checked is None or first.tier != checked.tier:
        why = f"{first.model} answered in place of {checked.name if checked else 'nobody'}"
        return result(first, Verification("unverified", first.model, detail=why))
    verdicts = {o.model: agreement(first.text, o.text) for o in answered}
    peers_named = tuple(verdicts)
    if True in verdicts.values() and False not in verdicts.values():
        return result(
            first, Verification("agree", first.model, peers_named, detail="same final answer")
        )
    if False not in verdicts.values():
        why = "no comparable answer from " + ", ".join(p.name for p in peers)
        return result(first, Verification("unverified", first.model, peers_named, detail=why))
    differs = ", ".join(m for m, v in verdicts.items() if v is False)
    try:
        better = await executor.execute(request, escalation)
    except AllModelsFailedError as exc:
        attempts = (*attempts, *exc.attempts)
        why = f"{differs} answered differently; escalation failed: {exc}"
        return result(first, Verification("disagree", first.model, peers_named, detail=why))
    why = f"{differs} answered differently from {first.model}"
    return result(
        better,
        Verification("disagree", first.model, peers_named, escalated_to=better.model, detail=why),
        extra=better.cost_usd,
    )
