"""Build realistic traces for store tests."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from switchtower.types import Attempt, Outcome, Tier, Trace, Usage

_clock = itertools.count()

T0 = 1_750_000_000.0  # a fixed epoch so day buckets are known


def attempt(model: str = "gpt-x", tier: Tier = "realtime", ok: bool = True, **kw: Any) -> Attempt:
    base: dict[str, Any] = {
        "model": model,
        "provider": "openai",
        "tier": tier,
        "started_at": T0 + 0.25,
        "latency_ms": 120.5,
        "ok": ok,
        "usage": Usage(100, 20),
        "cost_usd": 0.0012,
    }
    if not ok:
        base |= {"error_kind": "upstream_server", "error_message": "502 bad gateway", "status": 502}
    base.update(kw)
    return Attempt(**base)


def trace(**kw: Any) -> Trace:
    base: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "created_at": T0 + next(_clock),
        "request_digest": "ab" * 32,
        "operation": "code.edit",
        "confidence": 0.91,
        "tier": "realtime",
        "model": "gpt-x",
        "deadline": "interactive",
        "signals": {"complexity": 0.4, "risky_migration": 0.0},
        "decision": {
            "tier": "realtime",
            "explanation": {"operation": "keyword match", "tier": "guard risky_migration"},
        },
        "attempts": (attempt(ok=False, cost_usd=0.0, usage=Usage()), attempt()),
        "usage": Usage(100, 20),
        "cost_usd": 0.0012,
        "counterfactual_cost_usd": 0.003,
        "latency_ms": 250.0,
        "policy_version": "priors-1",
    }
    base.update(kw)
    return Trace(**base)


def judged(success: bool | None = None, score: float | None = None) -> Outcome:
    return Outcome(success=success, score=score, comment=None, source="test")
