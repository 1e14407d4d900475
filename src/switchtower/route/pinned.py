"""The plans that bypass routing: a model the client named, and a refusal to trace.

A named model (``model: "<configured model>"``) is planned as given, after the checks
routing would otherwise make: it can be called here, and a batch API only for a client
that takes a job and has the time for it. A refused request (no tier can serve it) keeps
what was decided up to the refusal, so it can be traced like any other decision.
"""

from __future__ import annotations

from switchtower.errors import InvalidRequestError, NoEligibleModelError
from switchtower.protocols import ModelInfo
from switchtower.types import (
    DEADLINE_SECONDS,
    Classification,
    Decision,
    Request,
    RouteDecision,
    Selection,
    Signals,
)

__all__ = ["pinned_route", "refused_decision"]


def pinned_route(
    info: ModelInfo, request: Request, *, assume_available: bool
) -> tuple[RouteDecision, Selection]:
    """The route and selection of the model the client named (``info``)."""
    name = info.name
    if not info.available and not assume_available:
        raise NoEligibleModelError(
            f"the model {name!r} cannot be called here: {info.unavailable_reason or 'unavailable'}"
        )
    if info.batch and not request.accept_deferred:
        raise InvalidRequestError(
            f"the model {name!r} is a batch API: it answers later, as a job; send the "
            "async hint (x-switchtower-async: true, or run --async) or name a model "
            "that answers now",
            field="model",
        )
    if info.batch and DEADLINE_SECONDS[request.deadline] < info.max_delay_s:
        raise InvalidRequestError(
            f"the model {name!r} is a batch API that may take {info.max_delay_s:g} s, "
            f"longer than the {request.deadline!r} deadline allows: send deadline batch",
            field="model",
        )
    why = f"model {name!r} named by the client: routing bypassed"
    route = RouteDecision(
        tier=info.tier,
        predicted_success={},
        eligible=(info.tier,),
        rule="pinned-model",
        explanation=why,
    )
    return route, Selection(model=name, tier=info.tier, estimate=0.0, explanation=why)


def refused_decision(
    request: Request,
    classification: Classification,
    signals: Signals,
    exc: NoEligibleModelError,
    overhead_ms: float,
) -> Decision:
    """The plan of a refused request: no model, the refusal as the explanation; the top
    tier stands in for "none" (a trace needs one)."""
    why = str(exc)
    route = RouteDecision(
        tier="realtime", predicted_success={}, eligible=(), explanation=why, request_id=request.id
    )
    selection = Selection(model="", tier="realtime", estimate=0.0, explanation="refused: " + why)
    return Decision(request, classification, signals, route, selection, overhead_ms)
