"""Benchmark metrics: quality, cost, tier shares, deadline misses, PGR, APGR, CPT.

Definitions (also in ``docs/benchmark.md``):

* quality: mean recorded quality of the model that answered (failed requests: 0);
* cost fraction: total cost / total cost of always-frontier, where the frontier of a
  dataset is its strongest API model (highest real-time cost) served real-time;
* quality retained: quality / quality of always-frontier;
* tier shares: fraction of items served by ``local``, ``async``, ``realtime``, ``cache``;
* deadline misses: items whose answer arrived after their deadline class allows;
* PGR = (quality - weak) / (strong - weak), with weak = always-cheapest, strong =
  always-frontier;
* APGR and CPT(x%) follow RouteLLM (arXiv 2406.18665, ``routellm/evals/evaluate.py``)
  on a curve of (share of calls to the strong model, quality) points: APGR is the area
  under the quality curve above the weak model's, over the area between the strong and
  weak models' lines (trapezoids over strong share); CPT(x%) is the smallest strong
  share at which the linearly interpolated curve reaches x% of the gap.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from switchtower.types import DEADLINE_SECONDS, Deadline

__all__ = [
    "SERVED_TIERS",
    "Served",
    "Summary",
    "apgr",
    "cpt",
    "pgr",
    "summarize",
]

ServedTier = Literal["local", "async", "realtime", "cache"]
#: every tier a result can come from, in report order (``cache`` stays 0 until caching)
SERVED_TIERS: tuple[ServedTier, ...] = ("local", "async", "realtime", "cache")


@dataclass(frozen=True, slots=True)
class Served:
    """How one item was served (by the router or by a baseline)."""

    item_id: str
    dataset: str
    deadline: Deadline
    model: str
    tier: ServedTier
    quality: float
    cost_usd: float
    delay_s: float
    operation: str = ""
    gold_operation: str = ""
    error: str | None = None

    @property
    def missed(self) -> bool:
        return self.error is None and self.delay_s > DEADLINE_SECONDS[self.deadline]


@dataclass(frozen=True, slots=True)
class Summary:
    """The metrics of one set of served items against always-frontier and always-cheapest."""

    n: int
    quality: float
    cost_usd: float
    frontier_quality: float
    frontier_cost_usd: float
    cheapest_quality: float
    cost_fraction: float
    quality_retained: float
    tier_shares: Mapping[str, float]
    deadline_misses: int
    errors: int
    pgr: float | None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "quality": _r(self.quality),
            "quality_retained": _r(self.quality_retained),
            "cost_usd": _r(self.cost_usd, 6),
            "cost_fraction": _r(self.cost_fraction),
            "tier_shares": {k: _r(v) for k, v in self.tier_shares.items()},
            "deadline_misses": self.deadline_misses,
            "errors": self.errors,
            "pgr": None if self.pgr is None else _r(self.pgr),
            "frontier_quality": _r(self.frontier_quality),
            "frontier_cost_usd": _r(self.frontier_cost_usd, 6),
            "cheapest_quality": _r(self.cheapest_quality),
            **dict(self.extra),
        }


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def pgr(quality: float, weak: float, strong: float) -> float | None:
    """Performance gap recovered; ``None`` when strong and weak perform the same."""
    gap = strong - weak
    if abs(gap) < 1e-12:
        return None
    return (quality - weak) / gap


def summarize(
    served: Sequence[Served],
    frontier: Sequence[Served],
    cheapest: Sequence[Served],
    **extra: Any,
) -> Summary:
    """Metrics of ``served`` beside always-frontier and always-cheapest on the same items."""
    n = len(served)
    quality = _mean([s.quality for s in served])
    cost = sum(s.cost_usd for s in served)
    fq = _mean([s.quality for s in frontier])
    fc = sum(s.cost_usd for s in frontier)
    cq = _mean([s.quality for s in cheapest])
    shares: dict[str, float] = {
        t: (sum(1 for s in served if s.tier == t) / n if n else 0.0) for t in SERVED_TIERS
    }
    return Summary(
        n=n,
        quality=quality,
        cost_usd=cost,
        frontier_quality=fq,
        frontier_cost_usd=fc,
        cheapest_quality=cq,
        cost_fraction=cost / fc if fc > 0 else 0.0,
        quality_retained=quality / fq if fq > 0 else 0.0,
        tier_shares=shares,
        deadline_misses=sum(1 for s in served if s.missed),
        errors=sum(1 for s in served if s.error is not None),
        pgr=pgr(quality, cq, fq),
        extra=extra,
    )


def _curve(
    points: Iterable[tuple[float, float]], weak: float, strong: float
) -> list[tuple[float, float]]:
    """Sorted (strong share, quality) points with the two pure routers as end points."""
    pts = {(0.0, weak), (1.0, strong)}
    pts.update((min(max(s, 0.0), 1.0), q) for s, q in points)
    return sorted(pts)


def apgr(points: Iterable[tuple[float, float]], weak: float, strong: float) -> float | None:
    """RouteLLM's average performance gap recovered over a threshold sweep.

    ``points`` are (share of calls to the strong model in [0, 1], quality). The curve
    always includes the all-weak (0, weak) and all-strong (1, strong) routers.
    """
    if abs(strong - weak) < 1e-12:
        return None
    pts = _curve(points, weak, strong)
    area = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        area += (x1 - x0) * (y0 + y1) / 2.0
    return (area - weak) / (strong - weak)


def cpt(
    points: Iterable[tuple[float, float]], weak: float, strong: float, target: float
) -> float | None:
    """RouteLLM's call-performance threshold: the smallest share of strong-model calls
    at which the (linearly interpolated) curve reaches ``target`` of the gap (e.g. 0.5).
    """
    if abs(strong - weak) < 1e-12:
        return None
    goal = weak + target * (strong - weak)
    pts = _curve(points, weak, strong)
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if y0 >= goal:
            return x0
        if y1 >= goal:
            return x0 + (x1 - x0) * (goal - y0) / (y1 - y0)
    return None
