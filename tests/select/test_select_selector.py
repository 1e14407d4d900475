"""The ``beta`` selector: cheapest confident model, fallbacks, exploration, experiments."""

from __future__ import annotations

import math
from typing import Any

import pytest
from routing_fakes import classification, config, signals, tiers

from switchtower.registries import selectors
from switchtower.route import PolicyRouter
from switchtower.select import BetaSelector
from switchtower.select.experiments import assign_arm
from switchtower.types import Request, Selection

OPS = [{"name": n} for n in ("translate-text", "write-code", "summarize-document")]


def _plan(cfg: Any, op: str, sig: Any = None, req: Request | None = None, **kw: Any) -> Selection:
    req = req or Request.from_text("x", accept_deferred=True)
    c = classification(op, **kw)
    s = sig or signals()
    t = tiers()
    route = PolicyRouter(cfg).route(c, s, t, req)
    return BetaSelector(cfg).select(c, s, route, t)


def test_registered_as_beta() -> None:
    import switchtower.select.builtin  # noqa: F401 - registers

    assert isinstance(selectors.create("beta", config=config()), BetaSelector)


def test_cheapest_confident_model_with_ordered_fallbacks() -> None:
    cfg = config(selector={"exploration": 0.0})
    sel = _plan(cfg, "write-code", signals("interactive"))
    assert sel.tier == "realtime"
    assert sel.model == "mini"  # cheaper than big and clears the threshold with no traces
    assert sel.fallbacks == ("big",)
    assert "cheapest candidate" in sel.explanation


def test_fallbacks_go_up_the_tiers() -> None:
    cfg = config(selector={"exploration": 0.0})
    sel = _plan(cfg, "translate-text", signals("batch", complexity=0.0))
    assert sel.model == "small-local"
    assert sel.fallbacks == ("small-local-queued", "big-batch", "mini", "big")


def test_per_operation_threshold_overrides_the_global_one() -> None:
    ops = [{"name": "write-code", "confidence_threshold": 0.99}]
    cfg = config(operations=ops, selector={"exploration": 0.0})
    sel = _plan(cfg, "write-code", signals("interactive"))
    assert "no candidate in realtime reaches 0.8 with confidence 0.99" in sel.explanation
    assert sel.model in ("mini", "big")


def test_exploration_is_bounded_and_deterministic() -> None:
    rate = 0.05
    cfg = config(selector={"exploration": rate})
    t = tiers()
    router, selector = PolicyRouter(cfg), BetaSelector(cfg)
    c = classification("write-code")
    s = signals("interactive", complexity=0.0)
    n, explored = 4000, 0
    first: dict[str, str] = {}
    for i in range(n):
        req = Request.from_text("x", id=f"req-{i}")
        sel = selector.select(c, s, router.route(c, s, t, req), t)
        explored += sel.explored
        if sel.explored:
            assert sel.fallbacks[0] != sel.model  # the safe choice is the first fallback
        if i < 50:
            first[req.id] = sel.model
    bound = n * rate + 4 * math.sqrt(n * rate * (1 - rate))
    assert 0 < explored <= bound
    for rid, m in first.items():  # same id, same choice
        req = Request.from_text("x", id=rid)
        assert selector.select(c, s, router.route(c, s, t, req), t).model == m


def test_no_exploration_for_unknown_or_guarded_requests() -> None:
    cfg = config(selector={"exploration": 0.5})
    for i in range(200):
        req = Request.from_text("x", id=f"r{i}")
        assert not _plan(cfg, "unknown", signals("interactive"), req, confidence=0.2).explored
        guarded = signals("interactive", modes={"high_consequence_write": 0.9})
        assert not _plan(cfg, "write-code", guarded, req).explored


@pytest.mark.parametrize("shares", [(0.5, 0.5), (0.2, 0.8), (0.9, 0.1)])
def test_experiment_shares_hold_within_binomial_tolerance(shares: tuple[float, float]) -> None:
    arms = {"mini": shares[0], "big": shares[1]}
    n = 10_000
    count = sum(assign_arm("ab-1", f"id-{i}", arms) == "mini" for i in range(n))
    sd = math.sqrt(n * shares[0] * shares[1])
    assert abs(count - n * shares[0]) <= 4 * sd


def test_experiments_assign_independently_and_stick() -> None:
    arms = {"mini": 0.5, "big": 0.5}
    a = [assign_arm("exp-a", f"id-{i}", arms) for i in range(2000)]
    b = [assign_arm("exp-b", f"id-{i}", arms) for i in range(2000)]
    agree = sum(x == y for x, y in zip(a, b, strict=True))
    assert abs(agree - 1000) <= 4 * math.sqrt(2000 * 0.25)
    assert a == [assign_arm("exp-a", f"id-{i}", arms) for i in range(2000)]


def test_experiment_routes_its_operation_to_the_arm() -> None:
    exp = {"name": "wc-ab", "operation": "write-code", "arms": {"mini": 0.5, "big": 0.5}}
    cfg = config(operations=OPS, selector={"experiments": [exp]})
    seen = set()
    for i in range(200):
        req = Request.from_text("x", id=f"id-{i}")
        sel = _plan(cfg, "write-code", signals("interactive"), req)
        assert sel.experiment == "wc-ab"
        assert sel.model == sel.arm == assign_arm("wc-ab", req.id, exp["arms"])  # type: ignore[arg-type]
        seen.add(sel.arm)
    assert seen == {"mini", "big"}
    other = _plan(cfg, "translate-text", signals("interactive"))
    assert other.experiment is None


def test_experiment_arm_that_cannot_serve_falls_back_to_normal_selection() -> None:
    exp = {"name": "batch-ab", "operation": "write-code", "arms": {"big-batch": 1.0}}
    cfg = config(operations=OPS, selector={"experiments": [exp], "exploration": 0.0})
    sel = _plan(cfg, "write-code", signals("interactive"))  # a batch API cannot serve this
    assert sel.experiment is None
    assert sel.model == "mini"
    assert "its arm cannot serve this request" in sel.explanation


def test_value_rule_picks_the_model_whose_gain_is_worth_its_price() -> None:
    """In the real-time tier ``big`` is predicted a little better than ``mini`` (price
    prior) at ~5x its cost: worth it only when a success is worth a lot."""
    sig = signals("interactive", complexity=0.5)
    no_explore = {"exploration": 0.0}  # else 5% of random request ids try a cheaper model

    def plan_at(value: float) -> Selection:
        cfg = config(router={"value_per_success_usd": value}, operations=OPS, selector=no_explore)
        return _plan(cfg, "write-code", sig)

    low, high = plan_at(0.05), plan_at(50.0)
    assert (low.tier, high.tier) == ("realtime", "realtime")
    assert (low.model, high.model) == ("mini", "big")
    assert "highest expected net value in realtime at $50 per success" in high.explanation
    assert high.fallbacks[0] == "mini"


def test_no_confident_model_the_fallback_value_decides_whether_a_pricier_one_pays() -> None:
    """No candidate clears a 0.99 confidence. ``big`` is predicted a little better than
    ``mini`` (price prior) at ~5x its cost: worth it only when a success is worth many
    calls of big (the priciest model); without a fallback value, the old rule."""
    sig = signals("interactive", complexity=0.5)
    ops = [{"name": "write-code", "confidence_threshold": 0.99}]

    def at(calls: float | None) -> Selection:
        router = {"fallback_value_calls": calls}
        cfg = config(operations=ops, router=router, selector={"exploration": 0.0})
        return _plan(cfg, "write-code", sig)

    low, high, old = at(0.01), at(1000.0), at(None)
    assert (low.model, high.model) == ("mini", "big")
    for sel in (low, high, old):
        assert "no candidate in realtime reaches 0.8 with confidence 0.99" in sel.explanation
    assert "a success being worth 1000 calls of big" in high.explanation
    assert "the cheapest one not credibly below the highest estimate" in old.explanation


def test_the_selector_prices_a_request_at_the_routers_output_tokens() -> None:
    """``max_tokens`` caps the output the router prices; the selector prices alike, so
    both quote the same value of a success."""
    ops = [{"name": "write-code", "confidence_threshold": 0.99}]
    cfg = config(operations=ops, selector={"exploration": 0.0})
    sig = signals("interactive", complexity=0.5)
    req = Request.from_text("x", params={"max_tokens": 16})
    t = tiers()
    route = PolicyRouter(cfg).route(classification("write-code"), sig, t, req)
    assert route.output_tokens == 16
    sel = BetaSelector(cfg).select(classification("write-code"), sig, route, t)
    big = next(m for m in t["realtime"].models if m.name == "big")
    assert f"(${20 * big.cost(sig.context_tokens, 16):.4g})" in sel.explanation
