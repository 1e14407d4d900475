"""The spend report: what traffic cost by tier, operation and day, against the
counterfactual of sending everything to the most expensive real-time model, plus A/B
experiment arms with confidence intervals, and what second opinions decided.

The counterfactual prices each trace's own tokens at one model's prices (passed in, never
hard-coded); it assumes that model would have read and written as many tokens. Without
prices, the counterfactual recorded in each trace at request time is used.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from switchtower.errors import TraceStoreError
from switchtower.protocols import ModelInfo, TierInfo, TraceStore
from switchtower.store.format import format_table, usd
from switchtower.types import Trace, Usage

__all__ = [
    "ArmStats",
    "CacheStats",
    "CheckStats",
    "Interval",
    "ModelPrice",
    "OutcomeStats",
    "Report",
    "SpendRow",
    "build_report",
    "counterfactual_price",
    "format_report",
    "mean_interval",
    "summarize",
    "wilson_interval",
]

#: the normal quantile for two-sided 95% intervals
Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float

    def to_json(self) -> list[float]:
        return [self.low, self.high]


def wilson_interval(successes: float, trials: float, z: float = Z95) -> Interval:
    """Wilson score interval for a success rate; (0, 1) when there are no trials."""
    if trials <= 0:
        return Interval(0.0, 1.0)
    p = min(max(successes / trials, 0.0), 1.0)
    z2 = z * z
    denom = 1.0 + z2 / trials
    center = (p + z2 / (2.0 * trials)) / denom
    half = z * math.sqrt(p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)) / denom
    # exact at the edges: rounding must not lift the bound above 0 when nothing succeeded
    low = 0.0 if p == 0.0 else min(max(0.0, center - half), p)
    high = 1.0 if p == 1.0 else max(min(1.0, center + half), p)
    return Interval(low, high)


def mean_interval(values: Sequence[float], z: float = Z95) -> Interval | None:
    """Normal-approximation interval for a mean (None for fewer than two values)."""
    n = len(values)
    if n < 2:
        return None
    mean = math.fsum(values) / n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = z * math.sqrt(var / n)
    return Interval(mean - half, mean + half)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens of the model everything is priced at in the counterfactual."""

    model: str
    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None
    cache_write_1h_per_mtok: float | None = None

    def usage_cost(self, usage: Usage) -> float:
        return usage.priced(
            self.input_per_mtok,
            self.output_per_mtok,
            self.cache_read_per_mtok,
            self.cache_write_per_mtok,
            self.cache_write_1h_per_mtok,
        )


def counterfactual_price(
    models: Iterable[ModelInfo] | Mapping[Any, TierInfo],
) -> ModelPrice | None:
    """The most expensive real-time (non-batch) model, by input plus output price."""
    infos: Iterable[ModelInfo]
    if isinstance(models, Mapping):
        infos = [m for tier in models.values() for m in tier.models]
    else:
        infos = models
    candidates = [m for m in infos if m.tier == "realtime" and not m.batch]
    if not candidates:
        return None
    best = max(candidates, key=lambda m: (m.input_per_mtok + m.output_per_mtok, m.name))
    return ModelPrice(
        best.name,
        best.input_per_mtok,
        best.output_per_mtok,
        best.cache_read_per_mtok,
        best.cache_write_per_mtok,
        best.cache_write_1h_per_mtok,
    )


@dataclass(frozen=True, slots=True)
class SpendRow:
    """Totals for one group of traces (a tier, an operation, a day, or everything)."""

    key: str
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    counterfactual_cost_usd: float = 0.0
    #: of input_tokens, read from / written to a provider's prompt cache
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def savings_usd(self) -> float:
        return self.counterfactual_cost_usd - self.cost_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "requests": self.requests,
            "errors": self.errors,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost_usd,
            "counterfactual_cost_usd": self.counterfactual_cost_usd,
            "savings_usd": self.savings_usd,
        }


@dataclass(frozen=True, slots=True)
class ArmStats:
    """One arm of an A/B experiment: success with a Wilson 95% CI, mean cost with a CI."""

    experiment: str
    arm: str
    requests: int
    trials: int
    successes: float
    success_rate: float | None
    success_ci: Interval | None
    total_cost_usd: float
    mean_cost_usd: float | None
    cost_ci: Interval | None

    def to_json(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "arm": self.arm,
            "requests": self.requests,
            "trials": self.trials,
            "successes": self.successes,
            "success_rate": self.success_rate,
            "success_ci": self.success_ci.to_json() if self.success_ci else None,
            "total_cost_usd": self.total_cost_usd,
            "mean_cost_usd": self.mean_cost_usd,
            "cost_ci": self.cost_ci.to_json() if self.cost_ci else None,
        }


@dataclass(frozen=True, slots=True)
class CheckStats:
    """Second opinions over the period (``decision.verification`` of the traces):
    how many answers were checked, each verdict, and the escalations' count and cost."""

    checked: int = 0
    agree: int = 0
    disagree: int = 0
    unverified: int = 0
    escalated: int = 0
    escalated_cost_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _checks(traces_verified: Sequence[tuple[Mapping[str, Any], float]]) -> CheckStats:
    counts = {"agree": 0, "disagree": 0, "unverified": 0}
    escalated = [cost for v, cost in traces_verified if v.get("escalated_to")]
    for v, _ in traces_verified:
        if v.get("verdict") in counts:
            counts[v["verdict"]] += 1
    return CheckStats(
        sum(counts.values()), **counts, escalated=len(escalated), escalated_cost_usd=sum(escalated)
    )


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Answers from the response cache over the period (``decision.cache``): how many,
    and what they would have cost at the counterfactual price."""

    hits: int = 0
    saved_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class OutcomeStats:
    """Judged answers over the period (the traces' outcomes: feedback or a scorer's),
    as (judged, successes) per outcome source and per answering model."""

    by_source: Mapping[str, tuple[int, float]] = dataclasses.field(default_factory=dict)
    by_model: Mapping[str, tuple[int, float]] = dataclasses.field(default_factory=dict)

    @property
    def judged(self) -> int:
        return sum(n for n, _ in self.by_source.values())

    def to_json(self) -> dict[str, Any]:
        def part(d: Mapping[str, tuple[int, float]]) -> dict[str, Any]:
            return {
                k: {"judged": n, "successes": s, "success_rate": s / n} for k, (n, s) in d.items()
            }

        return {
            "judged": self.judged,
            "by_source": part(self.by_source),
            "by_model": part(self.by_model),
        }


def _count(acc: dict[str, tuple[int, float]], key: str, ok: float) -> None:
    n, s = acc.get(key, (0, 0.0))
    acc[key] = (n + 1, s + ok)


@dataclass(frozen=True, slots=True)
class Report:
    since: float | None
    until: float | None
    total: SpendRow
    by_tier: tuple[SpendRow, ...]
    by_operation: tuple[SpendRow, ...]
    by_day: tuple[SpendRow, ...]
    arms: tuple[ArmStats, ...] = ()
    #: the model the counterfactual priced traces at (None: per-trace recorded values)
    counterfactual_model: str | None = None
    checks: CheckStats = CheckStats()
    cache: CacheStats = CacheStats()
    outcomes: OutcomeStats = OutcomeStats()

    @property
    def savings_usd(self) -> float:
        return self.total.savings_usd

    @property
    def savings_pct(self) -> float | None:
        cf = self.total.counterfactual_cost_usd
        return None if cf <= 0 else 100.0 * self.total.savings_usd / cf

    @property
    def tier_shares(self) -> dict[str, float]:
        """Share of requests per tier (0..1)."""
        n = self.total.requests
        return {r.key: (r.requests / n if n else 0.0) for r in self.by_tier}

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "requests": self.total.requests,
            "total": self.total.to_json(),
            "cost_usd": self.total.cost_usd,
            "counterfactual_cost_usd": self.total.counterfactual_cost_usd,
            "counterfactual_model": self.counterfactual_model,
            "savings_usd": self.savings_usd,
            "savings_pct": self.savings_pct,
            "tier_shares": self.tier_shares,
            "by_tier": [r.to_json() for r in self.by_tier],
            "by_operation": [r.to_json() for r in self.by_operation],
            "by_day": [r.to_json() for r in self.by_day],
            "arms": [a.to_json() for a in self.arms],
            "checks": self.checks.to_json(),
            "cache": self.cache.to_json(),
            "outcomes": self.outcomes.to_json(),
        }


class _Acc:
    __slots__ = ("cf", "cost", "errors", "inp", "out", "read", "requests", "write")

    def __init__(self) -> None:
        self.requests = self.errors = self.inp = self.out = self.read = self.write = 0
        self.cost = self.cf = 0.0

    def add(self, t: Trace, cf: float) -> None:
        self.requests += 1
        self.errors += t.status == "error"
        self.inp += t.usage.input_tokens
        self.out += t.usage.output_tokens
        self.read += t.usage.cache_read_tokens
        self.write += t.usage.cache_write_tokens
        self.cost += t.cost_usd
        self.cf += cf

    def row(self, key: str) -> SpendRow:
        return SpendRow(
            key, self.requests, self.errors, self.inp, self.out, self.cost, self.cf,
            self.read, self.write,
        )  # fmt: skip


def _success(t: Trace) -> float | None:
    """1/0 for a judged success/failure, the score clamped to [0, 1], else None."""
    o = t.outcome
    if o is None:
        return None
    if o.success is not None:
        return 1.0 if o.success else 0.0
    if o.score is not None:
        return min(max(o.score, 0.0), 1.0)
    return None


def _arm(experiment: str, arm: str, costs: list[float], judged: list[float]) -> ArmStats:
    s, n = math.fsum(judged), len(judged)
    return ArmStats(
        experiment=experiment,
        arm=arm,
        requests=len(costs),
        trials=n,
        successes=s,
        success_rate=s / n if n else None,
        success_ci=wilson_interval(s, n) if n else None,
        total_cost_usd=math.fsum(costs),
        mean_cost_usd=math.fsum(costs) / len(costs) if costs else None,
        cost_ci=mean_interval(costs),
    )


def summarize(
    traces: Iterable[Trace],
    *,
    since: float | None = None,
    until: float | None = None,
    prices: ModelPrice | Iterable[ModelInfo] | Mapping[Any, TierInfo] | None = None,
) -> Report:
    """Aggregate traces (one pass, memory per group) into a :class:`Report`."""
    price = prices if isinstance(prices, ModelPrice) or prices is None else None
    if prices is not None and price is None:
        price = counterfactual_price(prices)  # type: ignore[arg-type]
    total = _Acc()
    groups: dict[str, dict[str, _Acc]] = {"tier": {}, "operation": {}, "day": {}}
    arms: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    verified: list[tuple[Mapping[str, Any], float]] = []
    hits, hit_saved = 0, 0.0
    by_source: dict[str, tuple[int, float]] = {}
    by_model: dict[str, tuple[int, float]] = {}
    for t in traces:
        ok = _success(t)
        if ok is not None and t.outcome is not None and t.status == "ok":
            _count(by_source, t.outcome.source, ok)
            _count(by_model, t.model, ok)
        v = t.decision.get("verification")
        if isinstance(v, Mapping):
            verified.append((v, t.cost_usd))
        cf = price.usage_cost(t.usage) if price is not None else t.counterfactual_cost_usd
        total.add(t, cf)
        if "cache" in t.decision:
            hits += 1
            hit_saved += cf
        day = dt.datetime.fromtimestamp(t.created_at, tz=dt.UTC).date().isoformat()
        for name, key in (("tier", t.tier), ("operation", t.operation), ("day", day)):
            groups[name].setdefault(key, _Acc()).add(t, cf)
        if t.experiment is not None and t.arm is not None:
            costs, judged = arms.setdefault((t.experiment, t.arm), ([], []))
            costs.append(t.cost_usd)
            if ok is not None:
                judged.append(ok)

    def rows(name: str, order: Sequence[str] | None = None) -> tuple[SpendRow, ...]:
        accs = groups[name]
        keys = sorted(accs, key=lambda k: (order.index(k) if order and k in order else 99, k))
        return tuple(accs[k].row(k) for k in keys)

    return Report(
        since=since,
        until=until,
        total=total.row("total"),
        by_tier=rows("tier", ("local", "async", "realtime")),
        by_operation=rows("operation"),
        by_day=rows("day"),
        arms=tuple(_arm(e, a, *arms[(e, a)]) for e, a in sorted(arms)),
        counterfactual_model=price.model if price else None,
        checks=_checks(verified),
        cache=CacheStats(hits, hit_saved),
        outcomes=OutcomeStats(dict(sorted(by_source.items())), dict(sorted(by_model.items()))),
    )


@runtime_checkable
class _TraceSource(Protocol):
    def iter_traces(
        self, since: float | None = None, until: float | None = None, *, with_attempts: bool = ...
    ) -> Iterable[Trace]: ...


def build_report(
    store: _TraceSource | TraceStore,
    *,
    since: float | None = None,
    until: float | None = None,
    prices: ModelPrice | Iterable[ModelInfo] | Mapping[Any, TierInfo] | None = None,
) -> Report:
    """The report over the store's traces with ``since <= created_at < until``.

    ``store`` is any trace store with ``iter_traces`` (SqlTraceStore, SafeTraceWriter).
    """
    if not isinstance(store, _TraceSource):
        raise TraceStoreError(f"{type(store).__name__} cannot list traces for a report")
    traces = store.iter_traces(since, until, with_attempts=False)  # the report needs none
    return summarize(traces, since=since, until=until, prices=prices)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _spend_table(title: str, rows: Sequence[SpendRow], total: int) -> str:
    body = [
        [
            r.key,
            str(r.requests),
            _pct(r.requests / total if total else None),
            str(r.errors),
            f"{r.input_tokens:,}",
            f"{r.output_tokens:,}",
            usd(r.cost_usd),
            usd(r.counterfactual_cost_usd),
            usd(r.savings_usd),
        ]
        for r in rows
    ]
    headers = [title, "requests", "share", "errors", "tokens in", "tokens out", "cost"]
    headers += ["all-realtime", "saved"]
    return format_table(headers, body)


def format_report(report: Report) -> str:
    """The report as plain-text tables for the terminal."""
    t = report.total
    span = " ".join(
        f"{word} {dt.datetime.fromtimestamp(x, tz=dt.UTC):%Y-%m-%d %H:%M} UTC"
        for word, x in (("from", report.since), ("until", report.until))
        if x is not None
    )
    cf_how = (
        f"priced at {report.counterfactual_model}"
        if report.counterfactual_model
        else "as recorded in each trace"
    )
    pct = "-" if report.savings_pct is None else f"{report.savings_pct:.1f}%"
    out = [
        f"switchtower spend report{' (' + span + ')' if span else ''}",
        f"requests            {t.requests} ({t.errors} errors)",
        f"cost                {usd(t.cost_usd)}",
        f"all-realtime cost   {usd(t.counterfactual_cost_usd)} ({cf_how})",
        f"saved               {usd(report.savings_usd)} ({pct})",
    ]
    if t.requests == 0:
        return "\n".join([*out, "", "no traces in this period"])
    if t.cache_read_tokens or t.cache_write_tokens:
        out.append(
            f"prompt cache        {t.cache_read_tokens:,} of {t.input_tokens:,} prompt tokens "
            f"read from providers' caches ({_pct(t.cache_read_tokens / max(t.input_tokens, 1))}), "
            f"{t.cache_write_tokens:,} written"
        )
    for title, rows in (
        ("tier", report.by_tier),
        ("operation", report.by_operation),
        ("day", report.by_day),
    ):
        out += ["", _spend_table(title, rows, t.requests)]
    if report.arms:
        body = [
            [
                f"{a.experiment}/{a.arm}",
                str(a.requests),
                str(a.trials),
                _pct(a.success_rate),
                "-"
                if a.success_ci is None
                else f"{_pct(a.success_ci.low)}-{_pct(a.success_ci.high)}",
                "-" if a.mean_cost_usd is None else usd(a.mean_cost_usd),
                "-" if a.cost_ci is None else f"{usd(a.cost_ci.low)}-{usd(a.cost_ci.high)}",
            ]
            for a in report.arms
        ]
        headers = ["experiment/arm", "requests", "judged", "success", "95% CI"]
        headers += ["mean cost", "95% CI"]
        out += ["", format_table(headers, body)]
    c = report.checks
    if c.checked:
        out += [
            "",
            f"second opinions     {c.checked} answers checked: {c.agree} agreed, "
            f"{c.disagree} disagreed ({c.escalated} escalated, {usd(c.escalated_cost_usd)}), "
            f"{c.unverified} not comparable",
        ]
    o = report.outcomes
    if o.judged:
        sources = ", ".join(f"{k} {n}" for k, (n, _) in o.by_source.items())
        body = [[m, str(n), _pct(ok / n)] for m, (n, ok) in o.by_model.items()]
        out += [
            "",
            f"outcomes            {o.judged} answers judged ({sources})",
            format_table(["model", "judged", "success"], body),
        ]
    hits = report.cache.hits
    if hits:
        out += [
            "",
            f"response cache      {hits} answer{'' if hits == 1 else 's'} from the cache, "
            f"{usd(report.cache.saved_usd)} at the counterfactual price",
        ]
    return "\n".join(out)
