"""The online benchmark: the nightly loop over a stream of simulated days.

As ``BENCHMARK.md`` asks: start with no traces (the built-in priors; the classifier is
trained from the train split's examples, as a team writes examples), serve the test
items as ``days`` days (a seeded shuffle cut into equal parts), and after each day learn
only from what was served that day: every answered trace gets the recorded quality of
the model actually used as its outcome (bandit feedback, as ``POST /v1/feedback`` would
give it), and :func:`~switchtower.nightly.run_nightly` (the production loop: score, fit,
gate on held-out traces, publish) updates the policy the next day is served with.
Selection keeps the production exploration share (5%) so cheaper models get tried.

Each deployment (a set of models: RouterBench's 11, RouteLLM's pair) has its own policy
and trace store, as separate gateways would. The result has the offline result's shape
(summary, datasets, baselines over all days) plus ``days``: per day the metrics and
what each night did.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from switchtower.bench.baselines import always_cheapest, always_frontier
from switchtower.bench.metrics import Served, summarize
from switchtower.bench.report import BenchResult, build_result
from switchtower.bench.runner import BenchOptions, serve_all, setup, split_groups
from switchtower.bench.workload import WorkloadItem
from switchtower.nightly import PolicyHistory, run_nightly
from switchtower.pipeline import Pipeline
from switchtower.store import SqlTraceStore, open_store
from switchtower.types import Outcome

__all__ = ["run_online_days"]

#: the production default: a small share of traffic tries cheaper models
ONLINE_EXPLORATION = 0.05


def _days(items: Sequence[WorkloadItem], days: int, seed: int) -> list[list[WorkloadItem]]:
    order = sorted(items, key=lambda i: i.id)
    random.Random(seed).shuffle(order)
    n = max(1, min(days, len(order)))
    return [order[d::n] for d in range(n)]


def _feedback(store: SqlTraceStore, served: Sequence[Served]) -> int:
    given = 0
    for s in served:
        if s.error is None and store.record_outcome(
            s.item_id, Outcome(score=s.quality, source="bench")
        ):
            given += 1
    return given


async def run_online_days(
    train: Sequence[WorkloadItem],
    test: Sequence[WorkloadItem],
    options: BenchOptions,
    workdir: Path,
) -> BenchResult:
    started = time.perf_counter()
    plan, base, replay = setup(train, test, options, workdir, exploration=ONLINE_EXPLORATION)
    groups = split_groups(train, test, plan)
    day_of = {i.id: d for d, day in enumerate(_days(test, options.days, options.seed)) for i in day}
    stores = [open_store(f"sqlite:///{workdir / f'online-{n}.db'}") for n in range(len(groups))]
    histories = [PolicyHistory(workdir / f"online-policy-{n}.json") for n in range(len(groups))]
    served: list[Served] = []
    days: list[dict[str, Any]] = []
    try:
        for d in range(max(day_of.values(), default=-1) + 1):
            today: list[Served] = []
            nights: list[dict[str, Any]] = []
            for n, group in enumerate(groups):
                items = [i for i in group.test if day_of[i.id] == d]
                if not items:
                    continue
                config = base.model_copy(update={"tiers": group.plan.tier_configs()})
                config = config.model_copy(
                    update={
                        "router": config.router.model_copy(
                            update={"policy": str(histories[n].active)}
                        )
                    }
                )
                pipeline = Pipeline.from_config(
                    config, store=stores[n], providers={"replay": replay}, jobs=None
                )
                version = pipeline.router.source.policy.version  # type: ignore[attr-defined]
                since = time.time()
                try:
                    got, _ = await serve_all(pipeline, items)
                finally:
                    await pipeline.aclose()
                _feedback(stores[n], got)
                until = time.time() + 1.0
                report = run_nightly(
                    config,
                    stores[n].iter_traces(since, until),
                    histories[n],
                    window=(since, until),
                    seed=options.seed,
                    now=since,
                )
                nights.append(
                    {
                        "models": sorted(group.plan.models_by_tier()),
                        "served_with": version,
                        **report.to_json(),
                    }
                )
                today += got
            served += today
            day_items = [i for i in test if day_of[i.id] == d]
            summary = summarize(
                today,
                always_frontier(day_items, plan, train),
                always_cheapest(day_items, plan, train),
            )
            days.append({"day": d + 1, "summary": summary.to_json(), "nights": nights})
    finally:
        for store in stores:
            store.close()
    return build_result(
        mode="online",
        served=served,
        sweep={},
        train=train,
        test=test,
        plan=plan,
        seed=options.seed,
        default_threshold=base.router.success_threshold,
        extra={
            "days": days,
            "timing": {"seconds": round(time.perf_counter() - started, 2)},
        },
    )
