"""Which models can serve a request at all, and why the others cannot.

Shared by the router (tier eligibility) and the selector (when a router does not hand
over its candidates). Checks, in order: availability (credentials, runtime), deadline
(an interactive request never waits for a batch API; a batch API only serves a client
that takes a job handle instead of an answer; a model's ``max_delay_s`` must fit the
deadline class), what the request needs the model to take (images, tools), context
window, and the request's cost cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Set

from switchtower.protocols import ModelInfo
from switchtower.route.capabilities import lacking
from switchtower.types import DEADLINE_SECONDS, Capability, Deadline

__all__ = ["DEFAULT_OUTPUT_TOKENS", "exclusion", "summarize_reasons"]

#: output tokens assumed when estimating a request's cost (``max_tokens`` caps it)
DEFAULT_OUTPUT_TOKENS = 512


def exclusion(
    m: ModelInfo,
    *,
    deadline: Deadline,
    context_tokens: int,
    output_tokens: int = DEFAULT_OUTPUT_TOKENS,
    max_cost_usd: float | None = None,
    deferred_ok: bool = False,
    needs: Set[Capability] = frozenset(),
) -> str | None:
    """Why ``m`` cannot serve this request, or ``None`` when it can."""
    if not m.available:
        return m.unavailable_reason or "unavailable"
    if needs and not needs <= m.capabilities:
        return lacking(needs, m.capabilities)
    if deadline == "interactive" and m.batch:
        return "a batch API cannot answer an interactive request"
    if m.batch and not deferred_ok:
        return "a batch API answers later: the client did not accept a deferred answer"
    limit = DEADLINE_SECONDS[deadline]
    if m.max_delay_s > limit:
        return f"delay up to {m.max_delay_s:g}s exceeds the {deadline} deadline ({limit:g}s)"
    if context_tokens > m.context_window:
        return f"{context_tokens} context tokens exceed its {m.context_window}-token window"
    if max_cost_usd is not None:
        cost = m.cost(context_tokens, output_tokens)
        if cost > max_cost_usd:
            return f"estimated ${cost:.4g} exceeds max_cost_usd ${max_cost_usd:.4g}"
    return None


def summarize_reasons(reasons: Iterable[tuple[str, str]]) -> str:
    """``(model, reason)`` pairs -> one phrase: shared reasons once, else per model."""
    pairs = list(reasons)
    if not pairs:
        return "no models configured"
    distinct = dict.fromkeys(r for _, r in pairs)
    if len(distinct) == 1:
        return next(iter(distinct))
    return "; ".join(f"{m}: {r}" for m, r in pairs)
