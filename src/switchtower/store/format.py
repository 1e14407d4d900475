"""Plain-text renderings for the CLI: tables, one trace in full, a list of traces."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from switchtower.store.codec import trace_to_dict
from switchtower.types import Trace

__all__ = [
    "format_table",
    "format_time",
    "format_trace",
    "format_trace_table",
    "trace_to_json",
    "usd",
]


def trace_to_json(trace: Trace) -> dict[str, Any]:
    """One trace as plain JSON (``switchtower traces --json``)."""
    return trace_to_dict(trace)


def usd(value: float) -> str:
    """Dollars with enough digits for sub-cent costs: $0.000123, $1.23, $1,234.56."""
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if value == 0:
        return "$0"
    return f"${value:.6f}"


def format_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None
) -> str:
    """Columns padded to width. ``align`` has one letter per column, ``l`` or ``r``;
    by default the first column is left-aligned and the others (numbers) right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    how = align or "l" + "r" * (len(headers) - 1)

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if a == "l" else c.rjust(w)
            for c, w, a in zip(cells, widths, how, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def _cached(t: Trace) -> str:
    u = t.usage
    if not (u.cache_read_tokens or u.cache_write_tokens):
        return ""
    return f" (prompt cache: {u.cache_read_tokens} read, {u.cache_write_tokens} written)"


def format_trace_table(traces: Sequence[Trace]) -> str:
    """One line per trace: time, id, operation, tier, model, status, tokens, cost, latency."""
    if not traces:
        return "no traces"
    rows = [
        [
            format_time(t.created_at),
            t.id,
            t.operation,
            t.tier,
            t.model,
            t.status if t.error_kind is None else f"{t.status}:{t.error_kind}",
            f"{t.usage.input_tokens}/{t.usage.output_tokens}",
            usd(t.cost_usd),
            f"{t.latency_ms:.0f}ms",
            "-" if t.outcome is None else _outcome_cell(t),
        ]
        for t in traces
    ]
    headers = ["time (UTC)", "id", "operation", "tier", "model", "status", "tokens in/out"]
    headers += ["cost", "latency", "outcome"]
    return format_table(headers, rows, align="llllllrrrl")


def _outcome_cell(t: Trace) -> str:
    """The outcome word, with who judged it unless that was feedback."""
    assert t.outcome is not None
    source = t.outcome.source
    return _outcome_word(t) + ("" if source == "feedback" else f" ({source})")


def _outcome_word(t: Trace) -> str:
    o = t.outcome
    assert o is not None
    if o.success is not None:
        return "success" if o.success else "failure"
    return f"score {o.score:.2f}" if o.score is not None else "noted"


def format_trace(trace: Trace) -> str:
    """A readable, multi-line account of one trace: what, where, why, every attempt."""
    t = trace
    lines = [
        f"trace      {t.id}",
        f"time       {format_time(t.created_at)} UTC",
        f"status     {t.status}" + (f" ({t.error_kind})" if t.error_kind else ""),
        f"operation  {t.operation} (confidence {t.confidence:.2f})",
        f"deadline   {t.deadline}",
        f"tier       {t.tier}",
        f"model      {t.model}",
        f"tokens     {t.usage.input_tokens} in, {t.usage.output_tokens} out{_cached(t)}",
        f"cost       {usd(t.cost_usd)} (all realtime: {usd(t.counterfactual_cost_usd)})",
        f"latency    {t.latency_ms:.1f} ms",
        f"policy     {t.policy_version or '-'}",
        f"digest     {t.request_digest}",
    ]
    if t.experiment:
        lines.append(f"experiment {t.experiment} arm {t.arm}")
    if t.api_key_id:
        lines.append(f"api key    {t.api_key_id}")
    if t.signals:
        sig = ", ".join(f"{k}={_num(v)}" for k, v in sorted(t.signals.items()))
        lines.append(f"signals    {sig}")
    explanation = t.decision.get("explanation")
    if isinstance(explanation, dict) and explanation:
        lines.append("why")
        lines.extend(f"  {k:<10} {v}" for k, v in explanation.items() if v)
    if t.attempts:
        lines.append("attempts")
        for i, a in enumerate(t.attempts, 1):
            result = "ok" if a.ok else f"failed {a.error_kind or ''}".rstrip()
            if a.status is not None:
                result += f" (HTTP {a.status})"
            lines.append(
                f"  {i}. {a.model} via {a.provider} [{a.tier}] {result}, "
                f"{a.latency_ms:.0f} ms, {a.usage.input_tokens}/{a.usage.output_tokens} "
                f"tokens, {usd(a.cost_usd)}"
            )
            if a.error_message:
                lines.append(f"     {a.error_message}")
    if t.outcome is not None:
        o = t.outcome
        parts = [_outcome_word(t), f"source {o.source}"]
        if o.score is not None and o.success is not None:
            parts.append(f"score {o.score:.2f}")
        if o.comment:
            parts.append(json.dumps(o.comment, ensure_ascii=False))
        lines.append("outcome    " + ", ".join(parts))
    if t.prompt is not None:
        lines.append("prompt")
        lines.extend("  " + ln for ln in t.prompt.splitlines() or [""])
    return "\n".join(lines)


def _num(v: object) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)
