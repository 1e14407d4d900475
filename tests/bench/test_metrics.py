"""Metrics and baselines on hand-computed cases."""

from __future__ import annotations

import pytest

from switchtower.bench.baselines import always_cheapest, always_frontier, oracle, random_matched
from switchtower.bench.metrics import Served, apgr, cpt, pgr, summarize
from switchtower.bench.tiers import TierPlan
from switchtower.types import Deadline

from .conftest import toy_item


def served(
    q: float, cost: float, tier: str = "local", *, delay: float = 0.0, deadline: Deadline = "batch"
) -> Served:
    return Served("i", "d", deadline, "m", tier, q, cost, delay)  # type: ignore[arg-type]


def test_apgr_and_cpt_on_a_toy_curve() -> None:
    # weak 0.5, strong 0.9; one router point: 50% strong calls at quality 0.8.
    # curve (0, .5) (.5, .8) (1, .9): area = .5*(.5+.8)/2 + .5*(.8+.9)/2 = .75
    # APGR = (.75 - .5) / (.9 - .5) = .625
    assert apgr([(0.5, 0.8)], 0.5, 0.9) == pytest.approx(0.625)
    # CPT(50%): quality .7 on the first segment at x = .5 * (.2 / .3) = 1/3
    assert cpt([(0.5, 0.8)], 0.5, 0.9, 0.5) == pytest.approx(1 / 3)
    # CPT(80%): quality .82 on the second segment at x = .5 + .5 * (.02 / .1) = .6
    assert cpt([(0.5, 0.8)], 0.5, 0.9, 0.8) == pytest.approx(0.6)
    # a random router lies on the diagonal: APGR .5, CPT(x) = x
    diag = [(x / 10, 0.5 + 0.4 * x / 10) for x in range(11)]
    assert apgr(diag, 0.5, 0.9) == pytest.approx(0.5)
    assert cpt(diag, 0.5, 0.9, 0.8) == pytest.approx(0.8)
    assert apgr([], 0.7, 0.7) is None


def test_two_model_toy_case_by_hand() -> None:
    # four items; weak right on 1 and 2, strong right on 1, 2, 3 (item 4 nobody).
    # a router sending only item 3 to strong: 25% strong calls, quality 3/4.
    # weak quality .5, strong .75 -> PGR = (.75 - .5) / (.75 - .5) = 1
    assert pgr(0.75, 0.5, 0.75) == pytest.approx(1.0)
    # curve (0,.5) (.25,.75) (1,.75): area = .25*(1.25)/2 + .75*.75 = .71875
    # APGR = (.71875 - .5) / .25 = .875; CPT(50%) = .125 (halfway up the first segment)
    assert apgr([(0.25, 0.75)], 0.5, 0.75) == pytest.approx(0.875)
    assert cpt([(0.25, 0.75)], 0.5, 0.75, 0.5) == pytest.approx(0.125)


def test_summarize_fractions_shares_and_misses() -> None:
    router = [
        served(1.0, 0.0, "local"),
        served(1.0, 0.5, "async", delay=100.0, deadline="soon"),
        served(0.0, 1.0, "realtime"),
        served(1.0, 0.5, "async", delay=100.0, deadline="interactive"),  # a miss
    ]
    frontier = [served(1.0, 1.0, "realtime")] * 3 + [served(0.0, 1.0, "realtime")]
    cheapest = [served(0.5, 0.0)] * 4
    s = summarize(router, frontier, cheapest)
    assert s.quality == pytest.approx(0.75)
    assert s.cost_fraction == pytest.approx(2.0 / 4.0)
    assert s.quality_retained == pytest.approx(1.0)
    assert s.tier_shares == {"local": 0.25, "async": 0.5, "realtime": 0.25, "cache": 0.0}
    assert s.deadline_misses == 1
    assert s.pgr == pytest.approx(1.0)
    assert s.to_json()["tier_shares"]["cache"] == 0.0


def test_baselines_by_hand() -> None:
    items = [
        toy_item(0, "interactive", 1.0, 1.0),
        toy_item(1, "batch", 1.0, 0.0),
        toy_item(2, "soon", 0.0, 0.0),
    ]
    plan = TierPlan.from_items(items)
    front = always_frontier(items, plan)
    assert {s.model for s in front} == {"gpt-4-1106-preview"}
    assert sum(s.cost_usd for s in front) == pytest.approx(0.12)
    cheap = always_cheapest(items, plan)
    assert {(s.model, s.tier, s.cost_usd) for s in cheap} == {("open-model", "local", 0.0)}
    orc = oracle(items, plan)
    # item 0: local is right and free; item 1: only GPT-4 is right, batch allowed -> async
    # at half price; item 2: nobody is right -> the cheapest option
    assert [(s.model, s.tier) for s in orc] == [
        ("open-model", "local"),
        ("gpt-4-1106-preview@batch", "async"),
        ("open-model", "local"),
    ]
    assert orc[1].cost_usd == pytest.approx(0.02)
    assert orc[1].delay_s <= 300.0
    # random at matched cost: cost 0 -> always cheapest, full cost -> always frontier
    assert {s.model for s in random_matched(items, plan, {"toy": 0.0})} == {"open-model"}
    full = random_matched(items, plan, {"toy": 0.12})
    assert {s.model for s in full} == {"gpt-4-1106-preview"}
