"""Human-readable rendering of decisions and results for the CLI."""

from __future__ import annotations

from switchtower.types import Decision, RunResult

__all__ = ["render_decision", "render_result"]


def render_decision(decision: Decision) -> str:
    c, r, s, sig = decision.classification, decision.route, decision.selection, decision.signals
    fired = [f"{n}={v.score:.2f}" for n, v in sig.failure_modes.items() if v.score >= 0.2]
    alts = ", ".join(f"{op} {p:.2f}" for op, p in c.alternatives[:2])
    predicted = ", ".join(f"{t} {p:.2f}" for t, p in r.predicted_success.items())
    fallbacks = f" (fallbacks: {', '.join(s.fallbacks)})" if s.fallbacks else ""
    lines = [
        f"operation  {c.operation} ({c.confidence:.2f}{'; then ' + alts if alts else ''})",
        f"           {c.explanation}",
        f"signals    complexity {sig.complexity.score:.2f}, ~{sig.context_tokens} tokens, "
        f"deadline {sig.deadline}; {', '.join(fired) if fired else 'no failure mode fired'}",
        f"tier       {r.tier}" + (f" [rule: {r.rule}]" if r.rule else ""),
        f"           predicted success: {predicted or 'n/a'}",
        f"           {r.explanation}",
        f"model      {s.model}{fallbacks}",
        f"           {s.explanation}",
        f"overhead   {decision.overhead_ms:.2f} ms",
    ]
    return "\n".join(lines)


def render_result(result: RunResult) -> str:
    out = [render_decision(result.decision)]
    c = result.completion
    if c is not None:
        tries = len(c.attempts)
        out.append(
            f"answered   by {c.model} ({c.tier}) in {result.latency_ms:.0f} ms, "
            f"{c.usage.input_tokens}+{c.usage.output_tokens} tokens, ${c.cost_usd:.6f}"
            + (f", {tries} attempts" if tries > 1 else "")
        )
        if c.verification is not None:
            out.append(f"checked    {c.verification.verdict}: {c.verification.detail}")
        out.append("")
        out.append(c.text.strip())
    out.append("")
    out.append(f"trace      {result.trace_id}")
    return "\n".join(out)
