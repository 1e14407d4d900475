"""Per-arm statistics for ``switchtower report``."""

from __future__ import annotations

from switchtower.select.experiments import arm_stats, wilson_interval
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
    stats = {s.arm: s for s in arm_stats(traces)}
    assert set(stats) == {"mini", "big"}
    mini, big = stats["mini"], stats["big"]
    assert mini.requests == 40
    assert mini.success_rate == 0.75
    assert mini.success_ci[0] < 0.75 < mini.success_ci[1]
    assert big.requests == 21
    assert big.judged == 20
    assert big.cost_ci[0] <= big.mean_cost_usd <= big.cost_ci[1]
    assert big.cost_ci[1] > big.cost_ci[0]


def test_wilson_interval_shrinks_with_data() -> None:
    lo1, hi1 = wilson_interval(8, 10)
    lo2, hi2 = wilson_interval(800, 1000)
    assert hi2 - lo2 < hi1 - lo1
    assert wilson_interval(0, 0) == (0.0, 1.0)
