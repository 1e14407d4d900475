"""Run a checked request: the chosen model's answer against its second opinions.

1. The chosen model answers (with its usual fallbacks). By default the peers are asked
   only then, and only when that answer commits to a final answer
   (:func:`~switchtower.verify.answers.final_answer`): an essay or code cannot be
   compared, so no peer is paid for it. Short answers are quick, so the wait is short
   where a check runs. With ``parallel`` the peers answer at the same time as the chosen
   model (no added wait, a peer call for every planned check).
2. Each peer answers with its own retries, no fallback. The chosen answer stands when a
   peer gives the same final answer and none gives another (``agree``), or when no
   comparison could be made (``unverified``: no final answer, a failed peer, or the
   chosen model failed over to another model, whose answer is not the one the check was
   planned for; the fallback may even be the peer itself).
3. A peer with another final answer (``disagree``) sends the request to the escalation
   models, in order. If they all fail, the cheap answer stands, and the trace says so.

The returned completion carries every attempt (the peers' and the escalation's too),
its ``cost_usd`` is everything spent on this answer, and ``verification`` says what
happened. When the chosen model and its fallbacks all fail, the error carries the
attempts of peers already asked as well.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Literal

from switchtower.errors import AllModelsFailedError
from switchtower.execute import Executor
from switchtower.protocols import ModelInfo
from switchtower.types import Attempt, Completion, Request, Verification
from switchtower.verify.answers import agreement, final_answer

__all__ = ["execute_checked"]


async def _ask(
    executor: Executor, request: Request, peers: Sequence[ModelInfo]
) -> tuple[list[Completion], tuple[Attempt, ...]]:
    """The peers' answers (those that came back) and all their attempts."""
    got = await asyncio.gather(
        *(executor.execute(request, [p]) for p in peers), return_exceptions=True
    )
    answered = [g for g in got if isinstance(g, Completion)]
    attempts = tuple(
        a
        for g in got
        for a in (g.attempts if isinstance(g, Completion) else getattr(g, "attempts", ()))
    )
    return answered, attempts


async def execute_checked(
    executor: Executor,
    request: Request,
    candidates: Sequence[ModelInfo],
    peers: Sequence[ModelInfo],
    escalation: Sequence[ModelInfo],
    *,
    parallel: bool = False,
) -> Completion:
    """The checked answer (see the module docstring)."""
    asked: tuple[list[Completion], tuple[Attempt, ...]] = ([], ())
    if parallel:
        got = await asyncio.gather(
            executor.execute(request, candidates),
            _ask(executor, request, peers),
            return_exceptions=True,
        )
        first_or_error, peer_result = got[0], got[1]
        if isinstance(peer_result, BaseException):  # _ask gathers its own failures
            raise peer_result
        asked = peer_result
    else:
        try:
            first_or_error = await executor.execute(request, candidates)
        except AllModelsFailedError as exc:
            first_or_error = exc
    if isinstance(first_or_error, BaseException):
        if isinstance(first_or_error, AllModelsFailedError):
            raise AllModelsFailedError(
                str(first_or_error), (*first_or_error.attempts, *asked[1])
            ) from first_or_error
        raise first_or_error
    first = first_or_error
    checked = candidates[0] if candidates else None

    def result(
        completion: Completion, verification: Verification, extra: Sequence[Completion] = ()
    ) -> Completion:
        paid = (first, *asked[0], *extra)
        attempts = (*first.attempts, *asked[1], *(a for e in extra for a in e.attempts))
        return dataclasses.replace(
            completion,
            attempts=attempts,
            cost_usd=sum(c.cost_usd for c in paid),
            verification=verification,
        )

    if checked is None or first.model != checked.name:
        why = f"{first.model} answered in place of {checked.name if checked else 'nobody'}"
        return result(first, Verification("unverified", first.model, detail=why))
    if not parallel:
        if final_answer(first.text) is None:
            why = "no final answer to compare: no peer asked"
            return result(first, Verification("unverified", first.model, detail=why))
        asked = await _ask(executor, request, peers)
    verdicts = {o.model: agreement(first.text, o.text) for o in asked[0]}
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
        why = f"{differs} answered differently; escalation failed: {exc}"
        failed = result(first, Verification("disagree", first.model, peers_named, detail=why))
        return dataclasses.replace(failed, attempts=(*failed.attempts, *exc.attempts))
    why = f"{differs} answered differently from {first.model}"
    sided = _sided_with(better, first, [o for o in asked[0] if verdicts[o.model] is False])
    verification = Verification(
        "disagree", first.model, peers_named, escalated_to=better.model, detail=why,
        sided_with=sided,
    )  # fmt: skip
    return result(better, verification, extra=(better,))


def _sided_with(
    better: Completion, first: Completion, differing: Sequence[Completion]
) -> Literal["checked", "peer"] | None:
    """Whose final answer the escalated answer gave: the checked model's, a differing
    peer's, or (None) neither's / not comparable."""
    if agreement(better.text, first.text):
        return "checked"
    if any(agreement(better.text, o.text) for o in differing):
        return "peer"
    return None
