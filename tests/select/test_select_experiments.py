"""Per-arm statistics for ``switchtower report``, from traces the selector tagged."""

from __future__ import annotations

from switchtower.store.report import summarize
from switchtower.types import Outcome, Trace


def _trace(i: int, arm: str, ok: bool | None, cost: float) -> Trace:
    return Trace(
        id=f"t{i}",
        created_at=0.0,
        request_digest="d",
        operation="write-code",
        confidence=1.0,
        tier="realtime",
        model=arm,
        deadline="interactive",
        signals={},
        decision={},
        cost_usd=cost,
        experiment="wc-ab",
        arm=arm,
        outcome=None if ok is None else Outcome(success=ok),
    )


def test_arm_stats_success_and_cost_with_intervals() -> None:
    traces = [_trace(i, "mini", i % 4 != 0, 0.001) for i in range(40)]
    traces += [_trace(100 + i, "big", True, 0.01 + 0.001 * (i % 3)) for i in range(20)]
    traces.append(_trace(999, "big", None, 0.01))
    traces.append(Trace("x", 0.0, "d", "op", 1.0, "local", "m", "batch", {}, {}))  # no experiment
    stats = {s.arm: s for s in summarize(traces).arms}
    assert set(stats) == {"mini", "big"}
    mini, big = stats["mini"], stats["big"]
    assert mini.requests == 40
    assert mini.success_rate == 0.75
    assert mini.success_ci is not None
    assert mini.success_ci.low < 0.75 < mini.success_ci.high
    assert big.requests == 21
    assert big.trials == 20
    assert big.cost_ci is not None
    assert big.mean_cost_usd is not None
    assert big.cost_ci.low <= big.mean_cost_usd <= big.cost_ci.high
    assert big.cost_ci.high > big.cost_ci.low
