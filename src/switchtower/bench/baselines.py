"""Baselines served from the same recorded outcomes, per dataset.

* ``always-frontier``: the dataset's strongest API model (highest real-time cost),
  real-time, for every item;
* ``always-cheapest``: the dataset's cheapest model in its cheapest tier (local for
  open-weight models); ties (several free local models) go to the one with the best
  mean quality on the *train* items, never the test items;
* ``random``: each item goes to the frontier with probability p, else to the cheapest,
  p chosen per dataset so the expected cost matches the router's (seeded draw);
* ``oracle``: per item, the cheapest (model, tier) among those with the best recorded
  quality that fit the item's deadline.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from switchtower.bench.metrics import Served
from switchtower.bench.replay import replay_delay
from switchtower.bench.tiers import ModelSlot, TierPlan
from switchtower.bench.workload import WorkloadItem
from switchtower.types import Tier

__all__ = [
    "BASELINES",
    "always_cheapest",
    "always_frontier",
    "by_dataset",
    "cheapest_slot",
    "frontier_slot",
    "oracle",
    "random_matched",
    "serve",
]


def by_dataset(items: Sequence[WorkloadItem]) -> dict[str, list[WorkloadItem]]:
    out: dict[str, list[WorkloadItem]] = defaultdict(list)
    for item in items:
        out[item.dataset].append(item)
    return dict(out)


def serve(item: WorkloadItem, slot: ModelSlot, plan: TierPlan, operation: str = "") -> Served:
    """``item`` answered by ``slot``, from its recorded outcome."""
    delay_bound = plan.async_delay_s if slot.tier == "async" else 0.0
    return Served(
        item_id=item.id,
        dataset=item.dataset,
        deadline=item.deadline,
        model=slot.name,
        tier=slot.tier,
        quality=item.outcomes[slot.model].quality,
        cost_usd=plan.cost(item, slot.model, slot.tier),
        delay_s=replay_delay(item.id, slot.name, slot.tier, delay_bound),
        operation=operation,
        gold_operation=item.operation,
    )


def frontier_slot(items: Sequence[WorkloadItem], plan: TierPlan) -> ModelSlot:
    m = plan.frontier(items)
    return ModelSlot(m, m, "realtime")


def cheapest_slot(
    items: Sequence[WorkloadItem], plan: TierPlan, train: Sequence[WorkloadItem] = ()
) -> ModelSlot:
    common = set.intersection(*(set(i.outcomes) for i in items)) if items else set()
    best_tier: dict[str, Tier] = dict.fromkeys(plan.local, "local")
    best_tier.update(dict.fromkeys(plan.api, "realtime"))
    cost: dict[str, float] = {m: sum(plan.cost(i, m, best_tier[m]) for i in items) for m in common}
    ref = [i for i in train if common <= set(i.outcomes)] or list(items)
    quality = {m: sum(i.outcomes[m].quality for i in ref) / len(ref) for m in common}
    m = min(common, key=lambda k: (round(cost[k], 12), -quality[k], k))
    return ModelSlot(m, m, best_tier[m])


def always_frontier(
    items: Sequence[WorkloadItem], plan: TierPlan, train: Sequence[WorkloadItem] = ()
) -> list[Served]:
    out: list[Served] = []
    for group in by_dataset(items).values():
        slot = frontier_slot(group, plan)
        out += [serve(i, slot, plan) for i in group]
    return out


def always_cheapest(
    items: Sequence[WorkloadItem], plan: TierPlan, train: Sequence[WorkloadItem] = ()
) -> list[Served]:
    out: list[Served] = []
    train_by = by_dataset(train)
    for name, group in by_dataset(items).items():
        slot = cheapest_slot(group, plan, train_by.get(name, ()))
        out += [serve(i, slot, plan) for i in group]
    return out


def oracle(
    items: Sequence[WorkloadItem], plan: TierPlan, train: Sequence[WorkloadItem] = ()
) -> list[Served]:
    out: list[Served] = []
    for item in items:
        options = plan.options(item)
        best = max(item.outcomes[s.model].quality for s in options)
        slot = min(
            (s for s in options if item.outcomes[s.model].quality >= best),
            key=lambda s: (plan.cost(item, s.model, s.tier), s.name),
        )
        out.append(serve(item, slot, plan))
    return out


def random_matched(
    items: Sequence[WorkloadItem],
    plan: TierPlan,
    router_cost: Mapping[str, float],
    *,
    seed: int = 0,
    train: Sequence[WorkloadItem] = (),
) -> list[Served]:
    """Frontier or cheapest at random, at the router's cost per dataset (in expectation)."""
    rng = random.Random(seed)
    out: list[Served] = []
    train_by = by_dataset(train)
    for name, group in sorted(by_dataset(items).items()):
        strong = frontier_slot(group, plan)
        weak = cheapest_slot(group, plan, train_by.get(name, ()))
        c_strong = sum(plan.cost(i, strong.model, strong.tier) for i in group)
        c_weak = sum(plan.cost(i, weak.model, weak.tier) for i in group)
        span = c_strong - c_weak
        p = (router_cost.get(name, 0.0) - c_weak) / span if span > 0 else 0.0
        p = min(max(p, 0.0), 1.0)
        out += [serve(i, strong if rng.random() < p else weak, plan) for i in group]
    return out


#: the baselines that need nothing but the items (``random`` also needs the router's cost)
BASELINES: Mapping[
    str, Callable[[Sequence[WorkloadItem], TierPlan, Sequence[WorkloadItem]], list[Served]]
] = {
    "always-frontier": always_frontier,
    "always-cheapest": always_cheapest,
    "oracle": oracle,
}
