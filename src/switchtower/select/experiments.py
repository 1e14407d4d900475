"""A/B experiments: deterministic arm assignment and per-arm statistics.

An experiment (``selector.experiments`` in config) splits one operation's traffic
between models at set shares. The arm of a request is a pure function of the experiment
name and the request id (a BLAKE2b hash mapped to [0, 1) and cut at the cumulative
shares), so the shares hold over many requests, a request keeps its arm on retry and
replay, and two experiments assign independently.

:func:`arm_stats` summarizes traces per arm for ``switchtower report``: success rate
with a Wilson 95% interval and mean cost with a normal 95% interval.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from switchtower.types import Trace

__all__ = ["ArmStats", "arm_stats", "assign_arm", "unit_hash", "wilson_interval"]

_Z95 = 1.959963984540054


def unit_hash(*parts: str) -> float:
    """A deterministic number in [0, 1) from the parts (BLAKE2b, 64 bits)."""
    h = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2.0**64


def assign_arm(experiment: str, request_id: str, arms: Mapping[str, float]) -> str:
    """The arm of ``request_id`` in ``experiment``: shares are cut in config order."""
    u = unit_hash("experiment", experiment, request_id)
    acc = 0.0
    last = ""
    for arm, share in arms.items():
        if share <= 0.0:
            continue
        acc += share
        last = arm
        if u < acc:
            return arm
    return last  # rounding: shares sum to 1 within 1e-6


def wilson_interval(successes: float, n: float, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval for a success rate (``(0, 1)`` with no data)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class ArmStats:
    """One arm of one experiment, from its traces."""

    experiment: str
    arm: str
    requests: int
    #: traces with an outcome (success or score) recorded
    judged: int
    success_rate: float | None
    success_ci: tuple[float, float]
    mean_cost_usd: float
    cost_ci: tuple[float, float]


def _quality(t: Trace) -> float | None:
    o = t.outcome
    if o is None:
        return None
    if o.success is not None:
        return 1.0 if o.success else 0.0
    if o.score is not None:
        return min(max(o.score, 0.0), 1.0)
    return None


def arm_stats(traces: Iterable[Trace], experiment: str | None = None) -> list[ArmStats]:
    """Per (experiment, arm): requests, success with Wilson CI, mean cost with CI."""
    groups: dict[tuple[str, str], list[Trace]] = defaultdict(list)
    for t in traces:
        if t.experiment is None or t.arm is None:
            continue
        if experiment is not None and t.experiment != experiment:
            continue
        groups[(t.experiment, t.arm)].append(t)
    out: list[ArmStats] = []
    for (exp, arm), ts in sorted(groups.items()):
        qs = [q for q in (_quality(t) for t in ts) if q is not None]
        costs = [t.cost_usd for t in ts]
        n = len(costs)
        mean = sum(costs) / n
        var = sum((c - mean) ** 2 for c in costs) / (n - 1) if n > 1 else 0.0
        half = _Z95 * math.sqrt(var / n) if n > 1 else 0.0
        out.append(
            ArmStats(
                experiment=exp,
                arm=arm,
                requests=n,
                judged=len(qs),
                success_rate=sum(qs) / len(qs) if qs else None,
                success_ci=wilson_interval(sum(qs), len(qs)),
                mean_cost_usd=mean,
                cost_ci=(max(0.0, mean - half), mean + half),
            )
        )
    return out
