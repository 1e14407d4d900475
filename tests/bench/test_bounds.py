"""The label-only ceiling, on cases worked out by hand."""

from __future__ import annotations

import pytest

from switchtower.bench.bounds import _hull, label_only_bound
from switchtower.bench.tiers import TierPlan

from .conftest import toy_item


def test_hull_keeps_the_cheapest_best_and_drops_dominated_points() -> None:
    # (0, 2) free; (0, 1) worse at the same price; (0.08, 4) async; (0.16, 4) realtime
    # costs more for nothing; (0.05, 2.5) lies under the chord (0, 2) -> (0.08, 4)
    points = [(0.0, 1.0), (0.16, 4.0), (0.0, 2.0), (0.05, 2.5), (0.08, 4.0)]
    assert _hull(points) == [(0.0, 2.0), (0.08, 4.0)]


def test_budget_buys_the_best_quality_per_dollar_first() -> None:
    batch = [toy_item(i, "batch", 1.0, float(i % 2 == 0)) for i in range(4)]
    plan = TierPlan.from_items(batch)
    # local: quality 2 of 4 for free; GPT-4 through the batch tier: 4 for $0.08 of $0.16
    free = label_only_bound(batch, plan, 0.0)
    assert free.quality_retained == pytest.approx(0.5)
    assert free.spent_fraction == 0.0
    half_step = label_only_bound(batch, plan, 0.25)
    assert half_step.quality_retained == pytest.approx(0.75)
    assert half_step.spent_fraction == pytest.approx(0.25)
    full = label_only_bound(batch, plan, 1.0)
    # never pays real-time prices for what the batch tier gives at half
    assert full.quality_retained == pytest.approx(1.0)
    assert full.spent_fraction == pytest.approx(0.5)


def test_interactive_items_cannot_use_the_batch_tier() -> None:
    items = [toy_item(i, "interactive", 1.0, 0.0) for i in range(2)]
    plan = TierPlan.from_items(items)
    half = label_only_bound(items, plan, 0.5)
    # only local (quality 0) or real-time GPT-4 at full price: half the budget buys half
    assert half.quality_retained == pytest.approx(0.5)
    assert label_only_bound(items, plan, 0.49).quality_retained < 0.5


def test_no_items_is_an_error() -> None:
    with pytest.raises(ValueError, match="no items"):
        label_only_bound([], TierPlan.from_items([]), 0.1)
