"""A/B experiments: deterministic arm assignment and per-arm statistics.

An experiment (``selector.experiments`` in config) splits one operation's traffic
between models at set shares. The arm of a request is a pure function of the experiment
name and the request id (a BLAKE2b hash mapped to [0, 1) and cut at the cumulative
shares), so the shares hold over many requests, a request keeps its arm on retry and
replay, and two experiments assign independently.

Per-arm success and cost with confidence intervals are computed from traces by
:mod:`switchtower.store.report` (``switchtower report``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

__all__ = ["assign_arm", "unit_hash"]


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
