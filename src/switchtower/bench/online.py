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
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from switchtower.bench.baselines import always_cheapest, always_frontier
from switchtower.bench.metrics import Served, Summary, summarize
from switchtower.bench.report import BenchResult, build_result
from switchtower.bench.runner import BenchOptions, serve_all, setup, split_groups
from switchtower.bench.tiers import TierPlan
from switchtower.bench.workload import WorkloadItem
from switchtower.errors import DataFormatError
from switchtower.nightly import PolicyHistory, run_nightly
from switchtower.pipeline import Pipeline
from switchtower.queue import JobStore
from switchtower.store import SqlTraceStore, open_store
from switchtower.types import Outcome

__all__ = ["run_online_days"]

#: the production default: a small share of traffic tries cheaper models
ONLINE_EXPLORATION = 0.05


def _spread(items: Sequence[WorkloadItem], days: int, seed: int) -> list[list[WorkloadItem]]:
    order = sorted(items, key=lambda i: i.id)
    random.Random(seed).shuffle(order)
    return [order[d::days] for d in range(days)]


def day_of_items(
    items: Sequence[WorkloadItem],
    days: int,
    seed: int,
    *,
    drift: str | None = None,
    drift_day: int | None = None,
) -> tuple[dict[str, int], int | None]:
    """Item id -> day (0-based), and the 0-based day the drifted dataset starts.

    Without ``drift`` the items are a seeded shuffle cut into ``days`` parts. With it, the
    items of dataset ``drift`` are held back and spread over the days from ``drift_day``
    (1-based; default the middle day) on, as a new operation appearing mid-stream.
    """
    days = max(1, min(days, len(items)))
    if drift is None:
        return {i.id: d for d, day in enumerate(_spread(items, days, seed)) for i in day}, None
    late = [i for i in items if i.dataset == drift]
    if not late:
        known = ", ".join(sorted({i.dataset for i in items}))
        raise DataFormatError(f"drift: no test items of dataset {drift!r} (datasets: {known})")
    start = (drift_day if drift_day is not None else days // 2 + 1) - 1
    if not 1 <= start < days:
        raise DataFormatError(f"drift day must be 2..{days} (got {start + 1})")
    rest = [i for i in items if i.dataset != drift]
    out = {i.id: d for d, day in enumerate(_spread(rest, days, seed)) for i in day}
    for d, day in enumerate(_spread(late, days - start, seed)):
        out.update((i.id, start + d) for i in day)
    return out, start


def _feedback(store: SqlTraceStore, served: Sequence[Served]) -> int:
    given = 0
    for s in served:
        if s.error is None and store.record_outcome(
            s.item_id, Outcome(score=s.quality, source="bench")
        ):
            given += 1
    return given


def _summary(
    served: Sequence[Served],
    items: Sequence[WorkloadItem],
    plan: TierPlan,
    train: Sequence[WorkloadItem],
) -> Summary:
    return summarize(
        served, always_frontier(items, plan, train), always_cheapest(items, plan, train)
    )


def _drift_day(
    dataset: str,
    served: Sequence[Served],
    items: Sequence[WorkloadItem],
    plan: TierPlan,
    train: Sequence[WorkloadItem],
) -> dict[str, Any]:
    """The day's PGR on the drifted dataset's items and on the others."""
    out: dict[str, Any] = {}
    for part, keep in (("new", True), ("others", False)):
        ids = {i.id for i in items if (i.dataset == dataset) == keep}
        s = _summary(
            [x for x in served if x.item_id in ids], [i for i in items if i.id in ids], plan, train
        )
        out[part] = None if s.n == 0 else {
            "n": s.n, "pgr": None if s.pgr is None else round(s.pgr, 4),
            "quality_retained": round(s.quality_retained, 4),
            "cost_fraction": round(s.cost_fraction, 4),
        }  # fmt: skip
    return out


#: how close to the no-drift run the new dataset must come to count as recovered
#: (quality retained, not PGR: PGR is unstable where cheap and frontier models are close)
RECOVERY_QUALITY_SLACK = 0.03
RECOVERY_COST_SLACK = 0.05


def _recovered(new: Mapping[str, Any], reference: Mapping[str, Any]) -> bool:
    """Routed about as well as without the drift and about as cheaply."""
    if not new or "quality_retained" not in reference:
        return False
    return bool(
        new["quality_retained"] >= reference["quality_retained"] - RECOVERY_QUALITY_SLACK
        and new["cost_fraction"] <= reference["cost_fraction"] + RECOVERY_COST_SLACK
    )


def _recovery(
    dataset: str, start: int, days: Sequence[Mapping[str, Any]], reference: Mapping[str, Any]
) -> dict[str, Any]:
    """Nights after the new dataset arrived until a day on which its items are routed as
    in the same stream without the drift (``reference``: that run's numbers for the
    dataset); None: not within the run."""
    recovered: int | None = None
    for nights, day in enumerate(days[start:]):
        if _recovered(day["drift"]["new"] or {}, reference):
            recovered = nights
            break
    return {
        "dataset": dataset,
        "first_day": start + 1,
        "reference": {k: reference.get(k) for k in ("pgr", "quality_retained", "cost_fraction")},
        "recovered_after_nights": recovered,
        "note": "nights after first_day until a day on which the new dataset's quality "
        f"retained is within {RECOVERY_QUALITY_SLACK} of the no-drift run's and its cost "
        f"fraction at most {RECOVERY_COST_SLACK} above it (0: at once; null: not within "
        "the run)",
    }


async def run_online_days(
    train: Sequence[WorkloadItem],
    test: Sequence[WorkloadItem],
    options: BenchOptions,
    workdir: Path,
) -> BenchResult:
    started = time.perf_counter()
    plan, base, replay = setup(train, test, options, workdir, exploration=ONLINE_EXPLORATION)
    groups = split_groups(train, test, plan)
    day_of, drift_start = day_of_items(
        test, options.days, options.seed, drift=options.drift, drift_day=options.drift_day
    )
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
                    config,
                    store=stores[n],
                    providers={"replay": replay},
                    jobs=JobStore.open(f"sqlite:///{workdir / f'online-{n}.db'}"),
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
            entry: dict[str, Any] = {
                "day": d + 1,
                "summary": _summary(today, day_items, plan, train).to_json(),
                "nights": nights,
            }
            if options.drift is not None:
                entry["drift"] = _drift_day(options.drift, today, day_items, plan, train)
            days.append(entry)
    finally:
        for store in stores:
            store.close()
    drift: dict[str, Any] = {}
    if options.drift is not None and drift_start is not None:
        calm = replace(options, drift=None, drift_day=None)
        ref = await run_online_days(train, test, calm, workdir / "no-drift")
        reference = ref.to_json()["datasets"].get(options.drift, {})
        drift = {"drift": _recovery(options.drift, drift_start, days, reference)}
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
            **drift,
            "timing": {"seconds": round(time.perf_counter() - started, 2)},
        },
    )
