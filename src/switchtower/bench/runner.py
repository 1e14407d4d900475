"""Run the benchmark: the production pipeline over a workload, with the replay provider.

Offline mode (:func:`run_offline`):

1. the benchmark's :class:`Config` declares the train split's gold operations, each with
   examples drawn from the train prompts (the classifier is trained from them), and
   serves every model through the ``replay`` provider (:class:`TierPlan`);
2. test items are grouped by the set of models they have outcomes for (one deployment
   each: RouterBench's 11 models, RouteLLM's pair). Per group a Policy is fitted with
   :func:`fit_policy` on the train items' outcomes (one :class:`OutcomeExample` per
   item and configured model, features from the pipeline's own classifier and signals),
   saved, and named in ``router.policy``;
3. every test item runs through :meth:`Pipeline.run` (classify, signals, route,
   select, execute against the replay, trace). Those runs are the reported numbers;
4. the threshold sweep re-decides each item from the cached classification and signals
   with a router and selector built from the registries at each threshold (the same
   production code, without re-running the classifier), for the cost-quality curve and
   RouteLLM's APGR / CPT;
5. the value sweep does the same with the router's value rule
   (``router.value_per_success_usd``) at values spread around the workload's cost of a
   frontier call (:data:`DEFAULT_VALUE_MULTIPLES` x the mean real-time cost of the
   frontier model on a train item: a scale taken from the train split only).

Online mode (:func:`run_online`, :mod:`switchtower.bench.online`) uses the same pieces:
a stream of days, each served with the current policy, then the production nightly loop
on that day's bandit feedback only.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from switchtower.bench.checked import serve_selection
from switchtower.bench.metrics import Served
from switchtower.bench.replay import ReplayProvider
from switchtower.bench.report import BenchResult, build_result
from switchtower.bench.tiers import TierPlan
from switchtower.bench.workload import DeadlineMix, WorkloadItem
from switchtower.config.schema import Config, OperationConfig, QueueConfig
from switchtower.errors import SwitchtowerError
from switchtower.pipeline import Pipeline
from switchtower.queue import JobStore, QueueWorker
from switchtower.registries import routers, selectors
from switchtower.route.policy import OutcomeExample, features_of, fit_policy
from switchtower.types import Classification, Decision, Request, RunResult, Signals

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DEFAULT_VALUE_MULTIPLES",
    "BenchOptions",
    "bench_config",
    "run_offline",
    "run_online",
    "serve_all",
    "setup",
    "split_groups",
]

#: router success thresholds swept for the cost-quality curve
DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(0.02 * i, 2) for i in range(51))
#: values of a success swept for the value rule's curve, as multiples of the mean cost
#: of one frontier call on the train split (0.5x to 1024x, three steps per doubling)
DEFAULT_VALUE_MULTIPLES: tuple[float, ...] = tuple(round(0.5 * 2 ** (i / 3), 4) for i in range(34))


@dataclass(frozen=True, slots=True)
class BenchOptions:
    mode: Literal["offline", "online"] = "offline"
    seed: int = 0
    mix: DeadlineMix = field(default_factory=DeadlineMix)
    local_per_mtok: float = 0.0
    batch_discount: float = 0.5
    async_delay_s: float = 300.0
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    value_multiples: tuple[float, ...] = DEFAULT_VALUE_MULTIPLES
    #: classifier examples per operation drawn from the train split (seeded sample)
    examples_per_operation: int = 300
    #: online mode: number of simulated days
    days: int = 7
    #: online mode: a dataset whose items only arrive from ``drift_day`` on (a new
    #: operation mid-stream); ``drift_day`` None: the middle day
    drift: str | None = None
    drift_day: int | None = None
    #: classifier registry name (``auto`` in production)
    classifier: str = "auto"


@dataclass(frozen=True, slots=True)
class _Group:
    """One deployment: the test items sharing a model set, and its pipeline."""

    plan: TierPlan
    train: tuple[WorkloadItem, ...]
    test: tuple[WorkloadItem, ...]


def _starter_defaults() -> dict[str, Any]:
    text = resources.files("switchtower.config").joinpath("starter.yaml").read_text("utf-8")
    data = yaml.safe_load(text) or {}
    return dict(data)


def bench_config(
    train: Sequence[WorkloadItem],
    plan: TierPlan,
    workdir: Path,
    *,
    seed: int = 0,
    examples_per_operation: int = 300,
    exploration: float = 0.0,
    classifier: str = "auto",
) -> Config:
    """The benchmark's Config: production defaults, the train split's operations with
    examples, and every workload model on the replay provider.
    """
    by_op: dict[str, list[str]] = defaultdict(list)
    for item in train:
        text = "\n".join(str(m.get("content") or "") for m in item.messages).strip()
        if text:
            by_op[item.operation].append(text)
    rng = random.Random(seed)
    operations = []
    for op in sorted(by_op):
        texts = sorted(dict.fromkeys(by_op[op]))
        if len(texts) > examples_per_operation:
            texts = rng.sample(texts, examples_per_operation)
        operations.append(
            OperationConfig(name=op, description=f"benchmark operation {op}", examples=tuple(texts))
        )
    data = _starter_defaults()
    data.pop("operations", None)
    data["tiers"] = {}
    data["storage"] = {"url": f"sqlite:///{workdir / 'traces.db'}", "store_prompts": False}
    # no artifact: the classifier trains from the operations' examples (and caches
    # the result keyed by a hash of them, as in production)
    data["classifier"] = {**data.get("classifier", {}), "name": classifier, "artifact": None}
    data.setdefault("selector", {})["exploration"] = exploration
    data.setdefault("router", {})["policy"] = None  # fitted per run, never the user's file
    config = Config.model_validate(data)
    return config.model_copy(update={"operations": tuple(operations), "tiers": plan.tier_configs()})


def _with(config: Config, **router_update: Any) -> Config:
    return config.model_copy(update={"router": config.router.model_copy(update=router_update)})


def _with_thresholds(config: Config, threshold: float) -> Config:
    """Router success threshold = ``threshold``; the selector's keeps its default offset."""
    offset = config.router.success_threshold - config.selector.confidence_threshold
    sel = min(max(threshold - offset, 0.0), 1.0)
    return config.model_copy(
        update={
            "router": config.router.model_copy(update={"success_threshold": threshold}),
            "selector": config.selector.model_copy(update={"confidence_threshold": sel}),
        }
    )


def split_groups(
    train: Sequence[WorkloadItem], test: Sequence[WorkloadItem], plan: TierPlan
) -> list[_Group]:
    keys: dict[frozenset[str], list[WorkloadItem]] = defaultdict(list)
    for item in test:
        keys[frozenset(item.outcomes)].append(item)
    out = []
    for models, items in sorted(keys.items(), key=lambda kv: sorted(kv[0])):
        g_train = tuple(i for i in train if models <= set(i.outcomes))
        out.append(_Group(plan.subset(models), g_train, tuple(items)))
    return out


def _examples(
    pipeline: Pipeline, items: Sequence[WorkloadItem], plan: TierPlan
) -> list[OutcomeExample]:
    """Full-information examples: every configured model's outcome on every item."""
    out: list[OutcomeExample] = []
    slots = plan.slots()
    for item in items:
        request = item.request()
        c = pipeline.classifier.classify(request)
        s = pipeline.signals.extract(request, c)
        feats = features_of(c, s)
        for slot in slots:
            if slot.model not in item.outcomes:
                continue
            out.append(
                OutcomeExample(
                    operation=c.operation,
                    features=feats,
                    tier=slot.tier,
                    model=slot.name,
                    quality=item.outcomes[slot.model].quality,
                    cost_usd=plan.cost(item, slot.model, slot.tier),
                )
            )
    return out


def _served_from_run(item: WorkloadItem, pipeline: Pipeline, result: Any) -> Served:
    completion = result.completion
    c = result.decision.classification
    replay = dict(completion.raw.get("replay", {})) if completion is not None else {}
    return Served(
        item_id=item.id,
        dataset=item.dataset,
        deadline=item.deadline,
        model=completion.model if completion is not None else "",
        tier=(
            ("cache" if completion.cached else completion.tier)
            if completion is not None
            else "realtime"
        ),
        quality=float(replay.get("quality", 0.0)),
        cost_usd=completion.cost_usd if completion is not None else 0.0,
        delay_s=float(replay.get("delay_s", 0.0)),
        operation=c.operation,
        gold_operation=item.operation,
        error=result.error,
    )


def _failed(item: WorkloadItem, exc: SwitchtowerError, operation: str = "") -> Served:
    return Served(
        item_id=item.id,
        dataset=item.dataset,
        deadline=item.deadline,
        model="",
        tier="realtime",
        quality=0.0,
        cost_usd=0.0,
        delay_s=0.0,
        operation=operation,
        gold_operation=item.operation,
        error=exc.kind,
    )


#: the benchmark's queue: no lingering, polled at once (its batches end when polled)
BENCH_QUEUE = QueueConfig(linger_s=0.0, max_batch=50_000, poll_s=1e-6, rescue_margin_s=0.0)
#: worker ticks before a deferred item counts as unanswered
_MAX_TICKS = 20


async def serve_all(
    pipeline: Pipeline, items: Sequence[WorkloadItem]
) -> tuple[list[Served], list[tuple[WorkloadItem, Request, Classification, Signals]]]:
    """Serve ``items`` through the pipeline: plan, then execute, or, when the plan is a
    batch entry, submit it to the job queue; the production worker then sends the
    batches to the replay and stores the answers (``served`` keeps the items' order)."""
    served: dict[str, Served] = {}
    cache: list[tuple[WorkloadItem, Request, Classification, Signals]] = []
    deferred: list[tuple[WorkloadItem, Decision]] = []
    for item in items:
        request = item.request()
        try:
            decision = pipeline.plan(request)
            if pipeline.defers(decision):
                pipeline.submit(decision)
                deferred.append((item, decision))
            else:
                result = await pipeline.execute(decision)
                served[item.id] = _served_from_run(item, pipeline, result)
        except SwitchtowerError as exc:
            served[item.id] = _failed(item, exc)
            continue
        cache.append((item, decision.request, decision.classification, decision.signals))
    if deferred:
        served.update(await _answer_deferred(pipeline, deferred))
    return [served[i.id] for i in items], cache


async def _answer_deferred(
    pipeline: Pipeline, deferred: Sequence[tuple[WorkloadItem, Decision]]
) -> dict[str, Served]:
    jobs = pipeline.jobs
    assert jobs is not None
    worker = QueueWorker(pipeline, jobs, BENCH_QUEUE)
    ids = [item.id for item, _ in deferred]
    for _ in range(_MAX_TICKS):
        await worker.tick()
        if all(j is not None and j.done for j in map(jobs.get, ids)):
            break
    out: dict[str, Served] = {}
    for item, decision in deferred:
        job = jobs.get(item.id)
        completion = job.completion if job is not None else None
        error = None if completion is not None else (job.error_kind if job else "lost")
        result = RunResult(decision, completion, item.id, 0.0, error=error)
        out[item.id] = _served_from_run(item, pipeline, result)
    return out


def _sweep_group(
    pipeline: Pipeline,
    plan: TierPlan,
    cache: Sequence[tuple[WorkloadItem, Request, Classification, Signals]],
    configs: Mapping[float, Config],
) -> dict[float, list[Served]]:
    """Re-decide every cached item with a freshly built router/selector per config."""
    out: dict[float, list[Served]] = {}
    for key, cfg in configs.items():
        parallel = cfg.verify.parallel
        router = routers.create(cfg.router.name, config=cfg, **cfg.router.options)
        selector = selectors.create(cfg.selector.name, config=cfg, **cfg.selector.options)
        served: list[Served] = []
        for item, request, c, s in cache:
            try:
                route = router.route(c, s, pipeline.tiers, request)
                sel = selector.select(c, s, route, pipeline.tiers)
            except SwitchtowerError as exc:
                served.append(_failed(item, exc, c.operation))
                continue
            served.append(serve_selection(item, sel, plan, c.operation, parallel=parallel))
        out[key] = served
    return out


def frontier_call_cost(train: Sequence[WorkloadItem], plan: TierPlan) -> float:
    """Mean real-time cost of the priciest API model on a train item (0 without one)."""
    costs = [
        max(plan.realtime_cost(m, item.outcomes[m]) for m in api)
        for item in train
        if (api := [m for m in plan.api if m in item.outcomes])
    ]
    return sum(costs) / len(costs) if costs else 0.0


def _policy_path(workdir: Path, n: int) -> Path:
    return workdir / f"policy-{n}.json"


def setup(
    train: Sequence[WorkloadItem],
    test: Sequence[WorkloadItem],
    options: BenchOptions,
    workdir: Path,
    *,
    exploration: float = 0.0,
) -> tuple[TierPlan, Config, ReplayProvider]:
    """The run's tiers and prices, its base Config and the replay provider."""
    plan = TierPlan.from_items(
        [*train, *test],
        local_per_mtok=options.local_per_mtok,
        batch_discount=options.batch_discount,
        async_delay_s=options.async_delay_s,
    )
    base = bench_config(
        train,
        plan,
        workdir,
        seed=options.seed,
        examples_per_operation=options.examples_per_operation,
        exploration=exploration,
        classifier=options.classifier,
    )
    return plan, base, ReplayProvider([*train, *test], plan)


async def _run_offline(
    train: Sequence[WorkloadItem],
    test: Sequence[WorkloadItem],
    options: BenchOptions,
    workdir: Path,
) -> BenchResult:
    started = time.perf_counter()
    plan, base, replay = setup(train, test, options, workdir)
    unit = frontier_call_cost(train, plan)
    values = tuple(round(m * unit, 8) for m in options.value_multiples) if unit > 0 else ()
    served: list[Served] = []
    sweep: dict[float, list[Served]] = defaultdict(list)
    value_sweep: dict[float, list[Served]] = defaultdict(list)
    policies: list[str] = []
    for n, group in enumerate(split_groups(train, test, plan)):
        config = base.model_copy(update={"tiers": group.plan.tier_configs()})
        fit_pipe = Pipeline.from_config(config, store=None, providers={"replay": replay})
        examples = _examples(fit_pipe, group.train, group.plan)
        policy = fit_policy(
            examples, models=group.plan.models_by_tier(), seed=options.seed, created_at=0.0
        )
        path = _policy_path(workdir, n)
        policy.save(path)
        policies.append(policy.version)
        await fit_pipe.aclose()
        pipeline = Pipeline.from_config(
            _with(config, policy=str(path)),
            store=None,
            providers={"replay": replay},
            jobs=JobStore.open(f"sqlite:///{workdir / f'jobs-{n}.db'}"),
        )
        try:
            got, cache = await serve_all(pipeline, group.test)
            served += got
            by_threshold = {t: _with_thresholds(pipeline.config, t) for t in options.thresholds}
            for t, points in _sweep_group(pipeline, group.plan, cache, by_threshold).items():
                sweep[t] += points
            by_value = {v: _with(pipeline.config, value_per_success_usd=v) for v in values}
            for v, points in _sweep_group(pipeline, group.plan, cache, by_value).items():
                value_sweep[v] += points
        finally:
            await pipeline.aclose()
    return build_result(
        mode="offline",
        served=served,
        sweep=dict(sweep),
        value_sweep=dict(value_sweep),
        value_unit_usd=unit,
        train=train,
        test=test,
        plan=plan,
        seed=options.seed,
        default_threshold=base.router.success_threshold,
        extra={
            "policies": policies,
            "deadline_mix": options.mix.to_json(),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )


def run_offline(
    train: Sequence[WorkloadItem],
    test: Sequence[WorkloadItem],
    options: BenchOptions | None = None,
    *,
    workdir: str | Path | None = None,
) -> BenchResult:
    """Fit on ``train``, evaluate ``test`` through the production pipeline."""
    opts = options or BenchOptions()
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        return asyncio.run(_run_offline(train, test, opts, Path(workdir)))
    with tempfile.TemporaryDirectory(prefix="switchtower-bench-") as tmp:
        return asyncio.run(_run_offline(train, test, opts, Path(tmp)))


def run_online(
    train: Sequence[WorkloadItem],
    test: Sequence[WorkloadItem],
    options: BenchOptions | None = None,
    *,
    workdir: str | Path | None = None,
) -> BenchResult:
    """Serve ``test`` as a stream of days with the nightly loop in between (see
    :mod:`switchtower.bench.online`)."""
    from switchtower.bench.online import run_online_days

    opts = options or BenchOptions(mode="online")
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        return asyncio.run(run_online_days(train, test, opts, Path(workdir)))
    with tempfile.TemporaryDirectory(prefix="switchtower-online-") as tmp:
        return asyncio.run(run_online_days(train, test, opts, Path(tmp)))
