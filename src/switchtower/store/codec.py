"""Trace <-> database rows and Trace <-> JSON (the spool file, ``traces --json``)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

import orjson

from switchtower.errors import TraceStoreError
from switchtower.store.models import AttemptRow, TraceRow
from switchtower.types import TIERS, Attempt, Completion, Deadline, Outcome, Tier, Trace, Usage

__all__ = [
    "attempt_rows",
    "completion_from_json",
    "completion_to_json",
    "json_safe",
    "json_text",
    "trace_from_dict",
    "trace_from_row",
    "trace_row",
    "trace_to_dict",
    "trace_to_json_bytes",
]


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON: str keys, lists, finite floats (NaN/inf become ``None``).

    PostgreSQL's JSONB rejects NaN; anything that is not JSON becomes its ``str``, so a
    decision carrying an odd object never blocks its trace.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return str(value)


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def json_text(value: Any) -> str:
    """``value`` as JSON text, as :func:`json_safe` would make it, in one orjson call.

    The trace store's engines serialise their JSON columns with it (see
    ``store.migrate.create_engine``): non-finite floats become null, non-str keys
    strings, sets lists, anything else its ``str``. What orjson cannot write (an int
    beyond 64 bits, nesting deeper than 254) goes through :func:`json_safe` and the
    standard library instead.
    """
    try:
        return orjson.dumps(value, default=_orjson_default, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(json_safe(value), allow_nan=False)


def _num(value: float, name: str) -> float:
    out = float(value)
    if not math.isfinite(out):
        raise TraceStoreError(f"trace field {name} is not a finite number: {value!r}")
    return out


def trace_row(trace: Trace) -> dict[str, Any]:
    """Column values for one ``traces`` row (raises TraceStoreError on unusable numbers)."""
    out = trace.outcome
    return {
        "id": trace.id,
        "created_at": _num(trace.created_at, "created_at"),
        "request_digest": trace.request_digest,
        "prompt": trace.prompt,
        "operation": trace.operation,
        "confidence": _num(trace.confidence, "confidence"),
        "tier": trace.tier,
        "model": trace.model,
        "deadline": trace.deadline,
        "status": trace.status,
        "error_kind": trace.error_kind,
        "input_tokens": int(trace.usage.input_tokens),
        "output_tokens": int(trace.usage.output_tokens),
        "cache_read_tokens": int(trace.usage.cache_read_tokens),
        "cache_write_tokens": int(trace.usage.cache_write_tokens),
        "cache_write_1h_tokens": int(trace.usage.cache_write_1h_tokens),
        "cost_usd": _num(trace.cost_usd, "cost_usd"),
        "counterfactual_cost_usd": _num(trace.counterfactual_cost_usd, "counterfactual"),
        "latency_ms": _num(trace.latency_ms, "latency_ms"),
        "policy_version": trace.policy_version,
        "experiment": trace.experiment,
        "arm": trace.arm,
        "api_key_id": trace.api_key_id,
        # made JSON-safe by the engine's serialiser, json_text (one C call, not a walk)
        "signals": trace.signals,
        "decision": trace.decision,
        "outcome_success": out.success if out else None,
        "outcome_score": out.score if out else None,
        "outcome_comment": out.comment if out else None,
        "outcome_source": out.source if out else None,
        # when the verdict reached the store (not when the request came: a job's trace
        # or a replayed one arrives later): what the nightly loop has already learned
        "outcome_at": (out.at if out.at is not None else time.time()) if out else None,
    }


def attempt_rows(trace: Trace) -> list[dict[str, Any]]:
    return [
        {
            "trace_id": trace.id,
            "seq": seq,
            "model": a.model,
            "provider": a.provider,
            "tier": a.tier,
            "started_at": _num(a.started_at, "attempt.started_at"),
            "latency_ms": _num(a.latency_ms, "attempt.latency_ms"),
            "ok": bool(a.ok),
            "error_kind": a.error_kind,
            "error_message": a.error_message,
            "status": a.status,
            "input_tokens": int(a.usage.input_tokens),
            "output_tokens": int(a.usage.output_tokens),
            "cost_usd": _num(a.cost_usd, "attempt.cost_usd"),
        }
        for seq, a in enumerate(trace.attempts)
    ]


def _attempt_from_row(row: AttemptRow | Any) -> Attempt:
    return Attempt(
        model=row.model,
        provider=row.provider,
        tier=cast(Tier, row.tier),
        started_at=row.started_at,
        latency_ms=row.latency_ms,
        ok=row.ok,
        error_kind=row.error_kind,
        error_message=row.error_message,
        status=row.status,
        usage=Usage(row.input_tokens, row.output_tokens),
        cost_usd=row.cost_usd,
    )


def trace_from_row(
    row: TraceRow | Any, attempts: Sequence[AttemptRow | Any] | None = None
) -> Trace:
    """A Trace from an ORM ``TraceRow`` or a Core row of ``traces`` (attribute access);
    ``attempts`` defaults to the ORM relationship."""
    outcome = None
    if row.outcome_at is not None:
        outcome = Outcome(
            success=row.outcome_success,
            score=row.outcome_score,
            comment=row.outcome_comment,
            source=row.outcome_source or "feedback",
            at=row.outcome_at,
        )
    rows = row.attempts if attempts is None else attempts
    return Trace(
        id=row.id,
        created_at=row.created_at,
        request_digest=row.request_digest,
        operation=row.operation,
        confidence=row.confidence,
        tier=cast(Tier, row.tier),
        model=row.model,
        deadline=cast(Deadline, row.deadline),
        signals=dict(row.signals or {}),
        decision=dict(row.decision or {}),
        attempts=tuple(_attempt_from_row(a) for a in rows),
        status=cast(Any, row.status),
        error_kind=row.error_kind,
        usage=Usage(
            row.input_tokens,
            row.output_tokens,
            row.cache_read_tokens or 0,
            row.cache_write_tokens or 0,
            row.cache_write_1h_tokens or 0,
        ),
        cost_usd=row.cost_usd,
        counterfactual_cost_usd=row.counterfactual_cost_usd,
        latency_ms=row.latency_ms,
        policy_version=row.policy_version,
        experiment=row.experiment,
        arm=row.arm,
        api_key_id=row.api_key_id,
        prompt=row.prompt,
        outcome=outcome,
    )


def _usage(u: Usage) -> dict[str, int]:
    out = {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens}
    if u.cache_read_tokens or u.cache_write_tokens:
        out["cache_read_tokens"] = u.cache_read_tokens
        out["cache_write_tokens"] = u.cache_write_tokens
        out["cache_write_1h_tokens"] = u.cache_write_1h_tokens
    return out


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    """The trace as plain JSON (one spool line, one ``traces --json`` item)."""
    return cast(dict[str, Any], json_safe(_raw_dict(trace)))


def _orjson_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def trace_to_json_bytes(trace: Trace) -> bytes:
    """:func:`trace_to_dict` serialised, without the recursive :func:`json_safe` pass:
    orjson writes NaN/inf as null, non-str keys as strings and anything else through
    ``str``, which is what ``json_safe`` does. The request path's journal uses it."""
    return orjson.dumps(_raw_dict(trace), default=_orjson_default, option=_ORJSON_OPTIONS)


def _raw_dict(trace: Trace) -> dict[str, Any]:
    o = trace.outcome
    out: dict[str, Any] = {
        "id": trace.id,
        "created_at": trace.created_at,
        "request_digest": trace.request_digest,
        "operation": trace.operation,
        "confidence": trace.confidence,
        "tier": trace.tier,
        "model": trace.model,
        "deadline": trace.deadline,
        "status": trace.status,
        "error_kind": trace.error_kind,
        "usage": _usage(trace.usage),
        "cost_usd": trace.cost_usd,
        "counterfactual_cost_usd": trace.counterfactual_cost_usd,
        "latency_ms": trace.latency_ms,
        "policy_version": trace.policy_version,
        "experiment": trace.experiment,
        "arm": trace.arm,
        "api_key_id": trace.api_key_id,
        "prompt": trace.prompt,
        "signals": trace.signals,
        "decision": trace.decision,
        "attempts": [
            {
                "model": a.model,
                "provider": a.provider,
                "tier": a.tier,
                "started_at": a.started_at,
                "latency_ms": a.latency_ms,
                "ok": a.ok,
                "error_kind": a.error_kind,
                "error_message": a.error_message,
                "status": a.status,
                "usage": _usage(a.usage),
                "cost_usd": a.cost_usd,
            }
            for a in trace.attempts
        ],
        "outcome": None
        if o is None
        else {"success": o.success, "score": o.score, "comment": o.comment, "source": o.source},
    }
    return out


def _usage_from(d: Mapping[str, Any] | None) -> Usage:
    d = d or {}
    return Usage(
        int(d.get("input_tokens", 0)),
        int(d.get("output_tokens", 0)),
        int(d.get("cache_read_tokens", 0)),
        int(d.get("cache_write_tokens", 0)),
        int(d.get("cache_write_1h_tokens", 0)),
    )


def trace_from_dict(d: Mapping[str, Any]) -> Trace:
    """Inverse of :func:`trace_to_dict` (raises KeyError/TypeError/ValueError on junk)."""
    o = d.get("outcome")
    return Trace(
        id=str(d["id"]),
        created_at=float(d["created_at"]),
        request_digest=str(d["request_digest"]),
        operation=str(d["operation"]),
        confidence=float(d["confidence"]),
        tier=d["tier"],
        model=str(d["model"]),
        deadline=d["deadline"],
        signals=dict(d.get("signals") or {}),
        decision=dict(d.get("decision") or {}),
        attempts=tuple(
            Attempt(
                model=str(a["model"]),
                provider=str(a["provider"]),
                tier=a["tier"],
                started_at=float(a["started_at"]),
                latency_ms=float(a["latency_ms"]),
                ok=bool(a["ok"]),
                error_kind=a.get("error_kind"),
                error_message=a.get("error_message"),
                status=a.get("status"),
                usage=_usage_from(a.get("usage")),
                cost_usd=float(a.get("cost_usd", 0.0)),
            )
            for a in d.get("attempts") or ()
        ),
        status=d.get("status", "ok"),
        error_kind=d.get("error_kind"),
        usage=_usage_from(d.get("usage")),
        cost_usd=float(d.get("cost_usd", 0.0)),
        counterfactual_cost_usd=float(d.get("counterfactual_cost_usd", 0.0)),
        latency_ms=float(d.get("latency_ms", 0.0)),
        policy_version=str(d.get("policy_version", "")),
        experiment=d.get("experiment"),
        arm=d.get("arm"),
        api_key_id=d.get("api_key_id"),
        prompt=d.get("prompt"),
        outcome=None
        if o is None
        else Outcome(
            success=o.get("success"),
            score=o.get("score"),
            comment=o.get("comment"),
            source=o.get("source", "feedback"),
        ),
    )


def completion_to_json(c: Completion) -> dict[str, Any]:
    """An answer as stored on a finished job or in the response cache (its attempts
    live in the trace)."""
    return {
        "text": c.text,
        "model": c.model,
        "tier": c.tier,
        "usage": _usage(c.usage),
        "cost_usd": c.cost_usd,
        "finish_reason": c.finish_reason,
        "raw": dict(c.raw),
    }


def completion_from_json(d: Mapping[str, Any]) -> Completion:
    """Inverse of :func:`completion_to_json` (raises KeyError/TypeError/ValueError on junk)."""
    tier = d.get("tier")
    return Completion(
        text=str(d.get("text") or ""),
        model=str(d["model"]),
        tier=tier if tier in TIERS else "realtime",
        usage=_usage_from(d.get("usage")),
        cost_usd=float(d.get("cost_usd") or 0.0),
        finish_reason=d.get("finish_reason"),
        raw=dict(d.get("raw") or {}),
    )
