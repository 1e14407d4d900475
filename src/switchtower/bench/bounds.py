"""How well could any router do that sees only the operation and the deadline?

The oracle baseline knows every item's outcome; a real router does not. This module
computes the ceiling for the class of routers that send all items of one (dataset,
operation, deadline class) group the same way — possibly split at random between
(model, tier) options — chosen *with hindsight on the test items*. That is an upper
bound for any policy that cannot tell the items of a group apart, so it says how much
of a target must come from per-item evidence (the signals) rather than from the label.

The optimum under a cost budget is a multiple-choice knapsack; allowing random splits
makes it the linear relaxation, solved exactly by walking each group's upper convex
hull of (cost, quality) in order of marginal quality per dollar.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from switchtower.bench.baselines import always_frontier
from switchtower.bench.tiers import TierPlan
from switchtower.bench.workload import WorkloadItem

__all__ = ["LabelBound", "label_only_bound", "label_only_bounds"]


@dataclass(frozen=True, slots=True)
class LabelBound:
    """The best label-only routing at a cost budget, with hindsight on the test items."""

    cost_fraction: float  # the budget, as a fraction of always-frontier cost
    quality: float
    quality_retained: float
    spent_fraction: float  # what the optimum actually spends (<= the budget)

    def to_json(self) -> dict[str, float]:
        return {
            "cost_fraction": round(self.cost_fraction, 4),
            "quality": round(self.quality, 4),
            "quality_retained": round(self.quality_retained, 4),
            "spent_fraction": round(self.spent_fraction, 4),
        }


def _hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Upper-left convex hull of (cost, quality): cheapest-best first, quality rising."""
    pts = sorted(points, key=lambda p: (p[0], -p[1]))
    start = pts[0]
    for p in pts:  # among the cheapest options keep the best; never pay for less
        if p[0] == start[0] and p[1] > start[1]:
            start = p
    hull = [start]
    for p in pts:
        if p[1] <= hull[-1][1]:
            continue
        while len(hull) >= 2:
            (c0, q0), (c1, q1) = hull[-2], hull[-1]
            # drop hull[-1] if it lies on or under the chord hull[-2] -> p
            if (q1 - q0) * (p[0] - c0) <= (p[1] - q0) * (c1 - c0):
                hull.pop()
            else:
                break
        hull.append(p)
    return hull


def _steps(
    items: Sequence[WorkloadItem], plan: TierPlan
) -> tuple[float, float, list[tuple[float, float, float]]]:
    """Cost and quality of every group's cheapest-best option, and the hull steps above
    them as (quality per dollar, extra cost, extra quality), best value first."""
    groups: dict[tuple[str, str, str], list[WorkloadItem]] = defaultdict(list)
    for item in items:
        groups[(item.dataset, item.operation, item.deadline)].append(item)
    cost = quality = 0.0
    steps: list[tuple[float, float, float]] = []
    for group in groups.values():
        points = [
            (
                sum(plan.cost(i, s.model, s.tier) for i in group),
                sum(i.outcomes[s.model].quality for i in group),
            )
            for s in plan.options(group[0])
            if all(s.model in i.outcomes for i in group)
        ]
        hull = _hull(points)
        cost += hull[0][0]
        quality += hull[0][1]
        for (c0, q0), (c1, q1) in pairwise(hull):
            steps.append(((q1 - q0) / (c1 - c0), c1 - c0, q1 - q0))
    steps.sort(key=lambda s: -s[0])
    return cost, quality, steps


def label_only_bounds(
    items: Sequence[WorkloadItem], plan: TierPlan, cost_fractions: Sequence[float]
) -> list[LabelBound]:
    """The ceiling for label+deadline-only routers on ``items`` at each cost fraction."""
    if not items:
        raise ValueError("no items")
    frontier = always_frontier(items, plan)
    frontier_cost = sum(s.cost_usd for s in frontier)
    frontier_quality = sum(s.quality for s in frontier)
    base_cost, base_quality, steps = _steps(items, plan)
    out = []
    for fraction in cost_fractions:
        budget = fraction * frontier_cost
        spent, quality = base_cost, base_quality
        for _, dc, dq in steps:
            room = budget - spent
            if room <= 0:
                break
            take = 1.0 if dc <= room else room / dc
            spent += take * dc
            quality += take * dq
        out.append(
            LabelBound(
                cost_fraction=fraction,
                quality=quality / len(items),
                quality_retained=quality / frontier_quality if frontier_quality else 0.0,
                spent_fraction=spent / frontier_cost if frontier_cost else 0.0,
            )
        )
    return out


def label_only_bound(
    items: Sequence[WorkloadItem], plan: TierPlan, cost_fraction: float
) -> LabelBound:
    """The ceiling for label+deadline-only routers on ``items`` at ``cost_fraction``."""
    return label_only_bounds(items, plan, [cost_fraction])[0]
