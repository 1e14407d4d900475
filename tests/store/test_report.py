"""The spend report on a small hand-built set, and the interval maths behind A/B arms."""

from __future__ import annotations

import json
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchtower.errors import TraceStoreError
from switchtower.protocols import ModelInfo, TierInfo
from switchtower.store import SqlTraceStore
from switchtower.store.report import (
    ModelPrice,
    build_report,
    counterfactual_price,
    format_report,
    mean_interval,
    summarize,
    wilson_interval,
)
from switchtower.types import Outcome, Trace, Usage

from .factories import judged, trace

DAY1 = 1_749_945_600.0  # 2025-06-15 00:00:00 UTC
DAY2 = DAY1 + 86_400.0  # 2025-06-16


def _set() -> list[Trace]:
    return [
        trace(created_at=DAY1 + 10, tier="local", model="small", operation="summarize",
              usage=Usage(1000, 200), cost_usd=0.0, counterfactual_cost_usd=0.02),
        trace(created_at=DAY1 + 20, tier="local", model="small", operation="code.edit",
              usage=Usage(3000, 500), cost_usd=0.0, counterfactual_cost_usd=0.05),
        trace(created_at=DAY1 + 30, tier="async", model="batchy", operation="summarize",
              usage=Usage(2000, 1000), cost_usd=0.004, counterfactual_cost_usd=0.04),
        trace(created_at=DAY2 + 40, tier="realtime", model="big", operation="code.edit",
              usage=Usage(500, 100), cost_usd=0.015, counterfactual_cost_usd=0.015),
        trace(created_at=DAY2 + 50, tier="realtime", model="big", operation="code.edit",
              usage=Usage(0, 0), cost_usd=0.0, counterfactual_cost_usd=0.0,
              status="error", error_kind="all_models_failed"),
    ]  # fmt: skip


PRICE = ModelPrice("big", input_per_mtok=15.0, output_per_mtok=75.0)


def _cf(t: Trace) -> float:
    return (t.usage.input_tokens * 15.0 + t.usage.output_tokens * 75.0) / 1e6


def test_spend_by_tier_operation_and_day_with_priced_counterfactual() -> None:
    ts = _set()
    rep = summarize(ts, prices=PRICE)
    assert rep.counterfactual_model == "big"
    assert rep.total.requests == 5
    assert rep.total.errors == 1
    assert rep.total.cost_usd == pytest.approx(sum(t.cost_usd for t in ts))
    assert rep.total.counterfactual_cost_usd == pytest.approx(sum(_cf(t) for t in ts))
    assert rep.savings_usd == pytest.approx(sum(_cf(t) - t.cost_usd for t in ts))
    assert rep.total.input_tokens == 6500
    assert rep.total.output_tokens == 1800

    tiers = {r.key: r for r in rep.by_tier}
    assert [r.key for r in rep.by_tier] == ["local", "async", "realtime"]  # cheap to dear
    for tier in ("local", "async", "realtime"):
        mine = [t for t in ts if t.tier == tier]
        assert tiers[tier].requests == len(mine)
        assert tiers[tier].cost_usd == pytest.approx(sum(t.cost_usd for t in mine))
        assert tiers[tier].counterfactual_cost_usd == pytest.approx(sum(_cf(t) for t in mine))
    assert rep.tier_shares == {"local": 0.4, "async": 0.2, "realtime": 0.4}

    ops = {r.key: r for r in rep.by_operation}
    assert ops["summarize"].requests == 2
    assert ops["summarize"].cost_usd == pytest.approx(0.004)
    assert ops["code.edit"].counterfactual_cost_usd == pytest.approx(
        (3000 * 15 + 500 * 75 + 500 * 15 + 100 * 75) / 1e6
    )
    days = {r.key: r.requests for r in rep.by_day}
    assert days == {"2025-06-15": 3, "2025-06-16": 2}
    cf = rep.total.counterfactual_cost_usd
    assert rep.savings_pct == pytest.approx(100 * (cf - 0.019) / cf)


def test_without_prices_the_recorded_counterfactual_is_used() -> None:
    ts = _set()
    rep = summarize(ts)
    assert rep.counterfactual_model is None
    assert rep.total.counterfactual_cost_usd == pytest.approx(
        sum(t.counterfactual_cost_usd for t in ts)
    )


def _info(name: str, tier: str, inp: float, out: float, batch: bool = False) -> ModelInfo:
    return ModelInfo(name, tier, "p", name, 8192, inp, out, batch=batch)  # type: ignore[arg-type]


def test_counterfactual_model_is_the_dearest_realtime_one() -> None:
    models = [
        _info("local", "local", 0, 0),
        _info("mid", "realtime", 3, 15),
        _info("dear", "realtime", 15, 75),
        _info("dear-batch", "realtime", 100, 100, batch=True),  # not real-time
        _info("async", "async", 50, 50),
    ]
    assert counterfactual_price(models) == ModelPrice("dear", 15, 75)
    tiers = {"realtime": TierInfo("realtime", tuple(m for m in models if m.tier == "realtime"))}
    assert counterfactual_price(tiers) == ModelPrice("dear", 15, 75)
    assert counterfactual_price([models[0]]) is None
    assert summarize(_set(), prices=models).counterfactual_model == "dear"


def test_ab_arms_success_and_cost_intervals() -> None:
    a_costs = [0.001, 0.002, 0.003, 0.004]
    a_ok = [True, True, True, False]
    ts = [
        trace(experiment="e1", arm="a", cost_usd=c, outcome=judged(ok))
        for c, ok in zip(a_costs, a_ok, strict=True)
    ]
    ts += [
        trace(experiment="e1", arm="b", cost_usd=0.01, outcome=judged(True)),
        trace(experiment="e1", arm="b", cost_usd=0.01, outcome=judged(False)),
        trace(experiment="e1", arm="b", cost_usd=0.01),  # not judged yet
        trace(),  # not in an experiment
    ]
    rep = summarize(ts)
    arms = {(a.experiment, a.arm): a for a in rep.arms}
    assert set(arms) == {("e1", "a"), ("e1", "b")}
    a, b = arms["e1", "a"], arms["e1", "b"]
    assert (a.requests, a.trials, a.successes, a.success_rate) == (4, 4, 3.0, 0.75)
    assert a.success_ci == wilson_interval(3, 4)
    assert a.mean_cost_usd == pytest.approx(statistics.mean(a_costs))
    half = 1.959963984540054 * statistics.stdev(a_costs) / math.sqrt(4)
    assert a.cost_ci is not None
    assert a.cost_ci.low == pytest.approx(statistics.mean(a_costs) - half)
    assert a.cost_ci.high == pytest.approx(statistics.mean(a_costs) + half)
    assert (b.requests, b.trials, b.success_rate) == (3, 2, 0.5)
    text = format_report(rep)
    assert "e1/a" in text
    assert "75.0%" in text


def test_report_json_and_text() -> None:
    rep = summarize(_set(), prices=PRICE)
    data = json.loads(json.dumps(rep.to_json()))
    assert data["requests"] == 5
    assert data["counterfactual_model"] == "big"
    assert [r["key"] for r in data["by_tier"]] == ["local", "async", "realtime"]
    text = format_report(rep)
    for word in ("tier", "operation", "day", "local", "summarize", "2025-06-16", "big"):
        assert word in text
    assert "no traces" in format_report(summarize([]))


def test_build_report_reads_the_store_within_the_window(store: SqlTraceStore) -> None:
    ts = _set()
    store.write_many(ts)
    rep = build_report(store, since=DAY2, prices=PRICE)
    assert rep.total.requests == 2
    assert rep.total.cost_usd == pytest.approx(0.015)
    assert rep.total.counterfactual_cost_usd == pytest.approx(sum(_cf(t) for t in ts[3:]))
    assert build_report(store, since=DAY1, until=DAY2).total.requests == 3


def test_wilson_matches_a_published_example() -> None:
    """Newcombe (1998), Stat Med 17:857, method 3: 81/263 -> 0.2553 to 0.3662."""
    ci = wilson_interval(81, 263)
    assert ci.low == pytest.approx(0.2553, abs=1e-4)
    assert ci.high == pytest.approx(0.3662, abs=1e-4)
    assert wilson_interval(0, 0).to_json() == [0.0, 1.0]


@given(st.integers(min_value=1, max_value=10_000), st.data())
def test_wilson_properties(n: int, data: st.DataObject) -> None:
    s = data.draw(st.integers(min_value=0, max_value=n))
    ci = wilson_interval(s, n)
    assert 0.0 <= ci.low <= s / n <= ci.high <= 1.0
    mirror = wilson_interval(n - s, n)  # failures are successes seen the other way
    assert ci.low == pytest.approx(1 - mirror.high, abs=1e-9)
    bigger = wilson_interval(4 * s, 4 * n)  # more evidence, same rate: narrower
    assert bigger.high - bigger.low < ci.high - ci.low
    if s == 0:
        assert ci.low == 0.0


def test_wilson_lower_bound_is_exactly_zero_without_successes() -> None:
    """Regression: rounding gave 0/3 a lower bound of 5.6e-17, above the observed rate."""
    assert wilson_interval(0, 3).low == 0.0
    assert wilson_interval(3, 3).high == 1.0


def test_mean_interval_needs_two_values() -> None:
    assert mean_interval([1.0]) is None
    ci = mean_interval([2.0, 2.0, 2.0])
    assert ci is not None
    assert (ci.low, ci.high) == (2.0, 2.0)


def test_format_report_has_no_trailing_spaces() -> None:
    text = format_report(summarize(_set(), prices=PRICE))
    assert all(line == line.rstrip() for line in text.splitlines())


def test_build_report_needs_a_store_that_can_list_traces() -> None:
    class WriteOnly:
        def write(self, trace: Trace) -> None: ...

        def get(self, trace_id: str) -> Trace | None:
            return None

        def recent(self, limit: int = 20) -> list[Trace]:
            return []

        def record_outcome(self, trace_id: str, outcome: object) -> bool:
            return False

    with pytest.raises(TraceStoreError, match="cannot list traces"):
        build_report(WriteOnly())  # type: ignore[arg-type]


def test_second_opinions_are_counted_with_the_escalations_cost() -> None:
    def checked(verdict: str, escalated_to: str | None, cost: float) -> Trace:
        v = {"verdict": verdict, "checked": "yi", "peers": ["mixtral"],
             "escalated_to": escalated_to, "detail": ""}  # fmt: skip
        return trace(decision={"tier": "local", "verification": v}, cost_usd=cost)

    ts = [
        checked("agree", None, 0.0),
        checked("agree", None, 0.0),
        checked("disagree", "big", 0.004),
        checked("disagree", None, 0.0),  # the escalation failed: the cheap answer stood
        checked("unverified", None, 0.0),
        trace(cost_usd=0.01),  # not checked
    ]
    rep = summarize(ts)
    c = rep.checks
    assert (c.checked, c.agree, c.disagree, c.unverified, c.escalated) == (5, 2, 2, 1, 1)
    assert c.escalated_cost_usd == pytest.approx(0.004)
    assert rep.to_json()["checks"]["escalated"] == 1
    text = format_report(rep)
    assert "second opinions     5 answers checked: 2 agreed, 2 disagreed (1 escalated" in text
    assert "second opinions" not in format_report(summarize(ts[-1:]))


def test_cache_hits_are_counted_with_what_they_saved() -> None:
    hit = {"tier": "local", "cache": {"hit": True, "key": "k"}}
    ts = [
        trace(decision=hit, cost_usd=0.0, counterfactual_cost_usd=0.003),
        trace(decision=hit, cost_usd=0.0, counterfactual_cost_usd=0.001),
        trace(cost_usd=0.01, counterfactual_cost_usd=0.02),
    ]
    rep = summarize(ts)
    assert rep.cache.hits == 2
    assert rep.cache.saved_usd == pytest.approx(0.004)
    assert rep.to_json()["cache"] == {"hits": 2, "saved_usd": pytest.approx(0.004)}
    assert "response cache      2 answers from the cache" in format_report(rep)
    assert "response cache" not in format_report(summarize(ts[-1:]))


def test_outcomes_are_counted_per_source_and_model() -> None:
    def out(success: bool | None, source: str, score: float | None = None) -> Outcome:
        return Outcome(success=success, score=score, source=source)

    ts = [
        trace(model="small", outcome=out(True, "contract")),
        trace(model="small", outcome=out(False, "contract")),
        trace(model="small", outcome=out(None, "feedback", score=0.5)),
        trace(model="big", outcome=out(True, "second-opinion")),
        trace(model="big"),  # not judged
        trace(model="big", outcome=out(True, "feedback"), status="error"),  # no answer
    ]
    rep = summarize(ts)
    assert rep.outcomes.judged == 4
    assert dict(rep.outcomes.by_source) == {
        "contract": (2, 1.0),
        "feedback": (1, 0.5),
        "second-opinion": (1, 1.0),
    }
    assert dict(rep.outcomes.by_model) == {"big": (1, 1.0), "small": (3, 1.5)}
    as_json = json.loads(json.dumps(rep.to_json()))["outcomes"]
    assert as_json["by_model"]["small"] == {"judged": 3, "successes": 1.5, "success_rate": 0.5}
    text = format_report(rep)
    assert "outcomes            4 answers judged (contract 2, feedback 1, second-opinion 1)" in text
    assert "outcomes" not in format_report(summarize(ts[4:5]))


def test_prompt_cache_tokens_are_totalled_and_priced_at_cache_rates() -> None:
    ts = [
        trace(usage=Usage(1000, 100, cache_read_tokens=800), cost_usd=0.001),
        trace(usage=Usage(1000, 100, cache_write_tokens=900), cost_usd=0.002),
        trace(usage=Usage(500, 50), cost_usd=0.003),
    ]
    price = ModelPrice("big", 15.0, 75.0, cache_read_per_mtok=1.5, cache_write_per_mtok=18.75)
    rep = summarize(ts, prices=price)
    assert (rep.total.cache_read_tokens, rep.total.cache_write_tokens) == (800, 900)
    assert rep.total.to_json()["cache_read_tokens"] == 800
    # the all-realtime counterfactual gets the same cache hits at its own cache prices
    expected = (200 * 15 + 800 * 1.5 + 100 * 75) + (100 * 15 + 900 * 18.75 + 100 * 75)
    expected += 500 * 15 + 50 * 75
    assert rep.total.counterfactual_cost_usd == pytest.approx(expected / 1e6)
    text = format_report(rep)
    assert "prompt cache        800 of 2,500 prompt tokens read" in text
    assert "(32.0%), 900 written" in text
    assert "prompt cache" not in format_report(summarize(ts[-1:], prices=price))
