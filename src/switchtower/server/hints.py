"""Routing hints from the client: the ``model`` field, request ``metadata`` and headers.

    model: "auto"                    route
    model: "auto:<operation>"        route, skip the classifier
    model: "<configured model>"      bypass routing (still traced and priced)

    metadata key     header                        value
    operation        x-switchtower-operation       a configured operation (or "unknown")
    deadline         x-switchtower-deadline        interactive | soon | batch
    max_tier         x-switchtower-max-tier        local | async | realtime
    max_cost_usd     x-switchtower-max-cost-usd    a number >= 0
    tier             x-switchtower-tier            local | async | realtime (pinned)
    value_per_success_usd
                     x-switchtower-value-per-success-usd
                                                   a number > 0: the router's value rule
    async            x-switchtower-async           true | false: take a job handle (HTTP
                                                   202) when routing picks a batch API
    cache            x-switchtower-cache           true | false: answer from the response
                                                   cache even if not deterministic / never
    webhook          x-switchtower-webhook         a URL told when the job finishes (with
                                                   async; under queue.webhooks.allow)

A header wins over the same key in ``metadata``. Every bad value is a 400 naming the
header or field it came from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from switchtower.errors import InvalidRequestError, UnknownModelError, UnknownOperationError
from switchtower.queue.webhooks import check_webhook
from switchtower.types import DEADLINES, TIERS, UNKNOWN, Deadline, Tier

__all__ = ["HINT_HEADERS", "Hints", "parse_hints"]

#: hint name -> header carrying it
HINT_HEADERS: Mapping[str, str] = {
    name: "x-switchtower-" + name.replace("_", "-")
    for name in (
        "operation",
        "deadline",
        "max_tier",
        "max_cost_usd",
        "tier",
        "value_per_success_usd",
        "async",
        "cache",
        "webhook",
    )
}


@dataclass(frozen=True, slots=True)
class Hints:
    """The routing part of a request, validated."""

    model: str | None = None
    operation: str | None = None
    deadline: Deadline = "interactive"
    max_tier: Tier | None = None
    max_cost_usd: float | None = None
    pinned_tier: Tier | None = None
    value_per_success_usd: float | None = None
    #: the client takes a job handle instead of an answer (batch APIs may serve it)
    accept_deferred: bool = False
    #: the response cache: True even when not deterministic, False never, None: config
    cache: bool | None = None
    #: told when the job finishes (an allowed URL; only with ``accept_deferred``)
    webhook: str | None = None

    def constraint_fields(self) -> dict[str, Any]:
        return {
            "deadline": self.deadline,
            "operation": self.operation,
            "max_tier": self.max_tier,
            "max_cost_usd": self.max_cost_usd,
            "pinned_tier": self.pinned_tier,
            "model": self.model,
        }


def _choice(options: tuple[str, ...]) -> Callable[[Any, str], Any]:
    def check(value: Any, where: str) -> Any:
        if not isinstance(value, str) or value not in options:
            raise InvalidRequestError(
                f"{where} must be one of {', '.join(options)} (got {value!r})", field=where
            )
        return value

    return check


def _cost(value: Any, where: str) -> Any:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidRequestError(
            f"{where} must be a number of USD (got {value!r})", field=where
        ) from None
    if not math.isfinite(number) or number < 0:
        raise InvalidRequestError(f"{where} must be a finite number >= 0", field=where)
    return number


def _value(value: Any, where: str) -> Any:
    number = _cost(value, where)
    if number <= 0:
        raise InvalidRequestError(f"{where} must be a number of USD > 0", field=where)
    return number


def _flag(value: Any, where: str) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise InvalidRequestError(f"{where} must be true or false (got {value!r})", field=where)


def _text(value: Any, where: str) -> Any:
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"{where} must be a non-empty string", field=where)
    return value


_CHECKS: Mapping[str, Callable[[Any, str], Any]] = {
    "operation": _text,
    "deadline": _choice(DEADLINES),
    "max_tier": _choice(TIERS),
    "max_cost_usd": _cost,
    "tier": _choice(TIERS),
    "value_per_success_usd": _value,
    "async": _flag,
    "cache": _flag,
    "webhook": _text,
}


def _model_hint(
    model: Any, operations: frozenset[str], models: frozenset[str]
) -> tuple[str | None, str | None]:
    """(concrete model or None, operation or None) from the ``model`` field."""
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model must be a non-empty string", field="model")
    if model == "auto":
        return None, None
    if model.startswith("auto:"):
        op = model[len("auto:") :]
        if op not in operations and op != UNKNOWN:
            raise UnknownOperationError(
                f"model {model!r}: unknown operation {op!r}; configured: "
                f"{', '.join(sorted(operations))}",
                field="model",
            )
        return None, op
    if model not in models:
        raise UnknownModelError(
            f"the model {model!r} does not exist; use 'auto', 'auto:<operation>' or one of: "
            f"{', '.join(sorted(models))}"
        )
    return model, None


def parse_hints(
    model: Any,
    metadata: Any,
    headers: Mapping[str, str],
    *,
    operations: frozenset[str],
    models: frozenset[str],
    metadata_field: str = "metadata",
    webhooks: Sequence[str] = (),
) -> Hints:
    """Validate every hint; the first bad one raises a 400 naming its source.
    ``webhooks``: the URL prefixes a webhook may be under (``queue.webhooks.allow``)."""
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidRequestError(f"{metadata_field} must be an object", field=metadata_field)
    concrete, model_op = _model_hint(model, operations, models)
    values: dict[str, Any] = {}
    for name, check in _CHECKS.items():
        header = HINT_HEADERS[name]
        raw_header = headers.get(header)
        if raw_header is not None:
            values[name] = check(raw_header.strip(), header)
        elif metadata is not None and metadata.get(name) is not None:
            values[name] = check(metadata[name], f"{metadata_field}.{name}")
    op = values.get("operation")
    if op is not None and op not in operations and op != UNKNOWN:
        header = HINT_HEADERS["operation"]
        where = header if headers.get(header) is not None else f"{metadata_field}.operation"
        raise UnknownOperationError(
            f"unknown operation {op!r}; configured: {', '.join(sorted(operations))}", field=where
        )
    if op is not None and model_op is not None and op != model_op:
        raise InvalidRequestError(
            f"model names operation {model_op!r} but the operation hint says {op!r}",
            field="model",
        )
    webhook = values.get("webhook")
    if webhook is not None:
        header = HINT_HEADERS["webhook"]
        where = header if headers.get(header) is not None else f"{metadata_field}.webhook"
        webhook = check_webhook(webhook, webhooks, where)
        if not values.get("async", False):
            raise InvalidRequestError(
                f"{where}: a webhook is for a deferred answer: send the async hint too",
                field=where,
            )
    return Hints(
        model=concrete,
        operation=op or model_op,
        deadline=values.get("deadline", "interactive"),
        max_tier=values.get("max_tier"),
        max_cost_usd=values.get("max_cost_usd"),
        pinned_tier=values.get("tier"),
        value_per_success_usd=values.get("value_per_success_usd"),
        accept_deferred=bool(values.get("async", False)),
        cache=values.get("cache"),
        webhook=webhook,
    )
