"""Errors at the HTTP edge: the gateway's own refusals and the map from the error tree
to status codes and OpenAI / Anthropic error bodies.

    SwitchtowerError (switchtower.errors)
    └── AccessError                 the gateway refuses the caller
        ├── AuthenticationError     401: no key, or not a key we issued
        ├── KeyRevokedError         403: a key that was revoked
        ├── RateLimitedError        429: the key's requests-per-minute limit (Retry-After)
        └── BudgetExceededError     429: the key's daily USD budget is spent (Retry-After)
    NoEligibleModelError (switchtower.errors)
    └── ConstraintsExcludeAllError  400: the request's own tier/cost hints left no model

No error body ever carries a stack trace: unexpected exceptions become a generic 500.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from switchtower.errors import (
    AllModelsFailedError,
    InvalidRequestError,
    NoEligibleModelError,
    SwitchtowerError,
    TraceStoreError,
    UnknownModelError,
    UnknownOperationError,
    UpstreamError,
    hide_urls,
)
from switchtower.types import Request

__all__ = [
    "AccessError",
    "AuthenticationError",
    "BudgetExceededError",
    "ConstraintsExcludeAllError",
    "HttpError",
    "KeyRevokedError",
    "RateLimitedError",
    "constraint_fields",
    "to_http",
]


class AccessError(SwitchtowerError):
    kind = "access"
    status = 403
    error_type = "permission_error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthenticationError(AccessError):
    kind = "invalid_api_key"
    status = 401
    error_type = "authentication_error"


class KeyRevokedError(AccessError):
    kind = "key_revoked"
    status = 403
    error_type = "permission_error"


class RateLimitedError(AccessError):
    kind = "rate_limited"
    status = 429
    error_type = "rate_limit_error"


class BudgetExceededError(AccessError):
    kind = "budget_exceeded"
    status = 429
    error_type = "rate_limit_error"


class ConstraintsExcludeAllError(NoEligibleModelError):
    """No model is eligible under the constraints the client itself sent."""

    kind = "no_eligible_model"

    def __init__(self, message: str, *, fields: list[str]) -> None:
        super().__init__(message)
        self.fields = fields


def constraint_fields(req: Request | None) -> list[str]:
    """The routing constraints a request carries (names as in ``metadata``)."""
    if req is None:
        return []
    fields = [("pinned_tier", "tier"), ("max_tier", "max_tier"), ("max_cost_usd", "max_cost_usd")]
    return [name for attr, name in fields if getattr(req, attr) is not None]


#: OpenAI error ``type`` -> Anthropic error ``type``
_ANTHROPIC_TYPES = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "rate_limit_error": "rate_limit_error",
    "upstream_error": "api_error",
    "service_unavailable": "overloaded_error",
    "server_error": "api_error",
}


@dataclass(frozen=True, slots=True)
class HttpError:
    """One error response, renderable in either wire format."""

    status: int
    type: str
    message: str
    code: str
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def openai_body(self) -> dict[str, Any]:
        err: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "param": self.param,
            "code": self.code,
        }
        err.update(self.extra)
        return {"error": err}

    def anthropic_body(self) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {
                "type": _ANTHROPIC_TYPES.get(self.type, "api_error"),
                "message": self.message,
            },
        }


def _retry_headers(retry_after: float | None) -> dict[str, str]:
    if retry_after is None:
        return {}
    return {"retry-after": str(max(1, math.ceil(retry_after)))}


def _invalid(exc: BaseException, _req: Request | None) -> HttpError:
    assert isinstance(exc, InvalidRequestError)
    return HttpError(400, "invalid_request_error", str(exc), exc.kind, exc.field)


def _unknown_operation(exc: BaseException, _req: Request | None) -> HttpError:
    assert isinstance(exc, UnknownOperationError)
    return HttpError(400, "invalid_request_error", str(exc), exc.kind, exc.field)


def _unknown_model(exc: BaseException, _req: Request | None) -> HttpError:
    return HttpError(404, "not_found_error", str(exc), "model_not_found", "model")


def _no_eligible(exc: BaseException, req: Request | None) -> HttpError:
    # The client's own constraints ruled every model out: their request to change (400).
    # Otherwise no configured model can serve right now: the server's problem (503).
    wait = exc.retry_after if isinstance(exc, NoEligibleModelError) else None
    if wait is not None:  # only models out after failures refused it: come back later
        headers = {"retry-after": str(math.ceil(wait))}
        return HttpError(503, "service_unavailable", str(exc), "no_eligible_model", headers=headers)
    constraints = (
        exc.fields if isinstance(exc, ConstraintsExcludeAllError) else constraint_fields(req)
    )
    if constraints:
        return HttpError(
            400,
            "invalid_request_error",
            f"{exc} (constraints from the request: {', '.join(constraints)})",
            "no_eligible_model",
            f"metadata.{constraints[0]}",
        )
    return HttpError(503, "service_unavailable", str(exc), "no_eligible_model")


def _all_failed(exc: BaseException, _req: Request | None) -> HttpError:
    assert isinstance(exc, AllModelsFailedError)
    tried = list(exc.models_tried)
    statuses = {a.status for a in exc.attempts}
    if exc.attempts and statuses <= {400, 422}:
        # every upstream said the request itself is malformed: the client's to fix
        last = exc.attempts[-1].error_message or str(exc)
        return HttpError(
            400,
            "invalid_request_error",
            hide_urls(f"every upstream rejected the request ({', '.join(tried)}): {last}"),
            "upstream_rejected",
            extra={"models_tried": tried},
        )
    return HttpError(
        502,
        "upstream_error",
        hide_urls(str(exc)),  # "all models failed (tried a, b): a: why | b: why"
        "all_models_failed",
        extra={"models_tried": tried},
    )


def _upstream(exc: BaseException, _req: Request | None) -> HttpError:
    assert isinstance(exc, UpstreamError)
    tried = [exc.model] if exc.model else []
    return HttpError(
        502,
        "upstream_error",
        hide_urls(f"upstream failed: {exc}"),
        exc.kind,
        headers=_retry_headers(exc.retry_after),
        extra={"models_tried": tried},
    )


def _access(exc: BaseException, _req: Request | None) -> HttpError:
    assert isinstance(exc, AccessError)
    return HttpError(
        exc.status, exc.error_type, str(exc), exc.kind, headers=_retry_headers(exc.retry_after)
    )


def _store(exc: BaseException, _req: Request | None) -> HttpError:
    """The database (traces, jobs) did not answer: nothing was accepted; try again."""
    return HttpError(
        503,
        "service_unavailable",
        f"storage unavailable, nothing was accepted: {exc}",
        "store_unavailable",
        headers=_retry_headers(5.0),
    )


def _internal(exc: BaseException, _req: Request | None) -> HttpError:
    kind = exc.kind if isinstance(exc, SwitchtowerError) else "internal"
    return HttpError(500, "server_error", "internal error (see the gateway log)", kind)


_MAPPERS: dict[type[BaseException], Callable[[BaseException, Request | None], HttpError]] = {
    InvalidRequestError: _invalid,
    UnknownOperationError: _unknown_operation,
    UnknownModelError: _unknown_model,
    NoEligibleModelError: _no_eligible,
    AllModelsFailedError: _all_failed,
    UpstreamError: _upstream,
    AccessError: _access,
    TraceStoreError: _store,
}


def to_http(exc: BaseException, request: Request | None = None) -> HttpError:
    """The response for ``exc``: the mapper of its nearest class in the tree."""
    for cls in type(exc).__mro__:
        mapper = _MAPPERS.get(cls)
        if mapper is not None:
            return mapper(exc, request)
    return _internal(exc, request)
