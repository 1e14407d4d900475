"""Model health: a circuit breaker per configured model, in this process.

A model whose calls fail ``retry.circuit_failures`` times in a row with a retryable error
(429, 5xx, a refused connection, a timeout) is taken out for a cool-down: routing plans
around it as if it were unavailable, and the executor skips it when it is a fallback, so
requests stop paying a dead server's timeout before they fall back. The cool-down starts
at ``retry.circuit_cooldown_s`` (or the upstream's Retry-After, if longer) and doubles
each time the model fails again right after one, up to ``retry.circuit_max_cooldown_s``.
When it ends the model is tried again (half-open): a success closes the circuit, a
failure opens it again at once. A rejected request (another 4xx) says nothing about the
model's health and does not count; a cancelled call neither.

State is per process (each gateway replica and worker learns on its own): a dead server
costs each of them ``circuit_failures`` calls, not one per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from switchtower.config.schema import RetryConfig
from switchtower.errors import UpstreamError
from switchtower.protocols import ModelInfo, TierInfo
from switchtower.types import Tier

__all__ = ["HealthBook"]


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    #: consecutive openings without a success between them (the cool-down doubles)
    opens: int = 0
    until: float = 0.0
    last_error: str = ""


class HealthBook:
    """Consecutive failures and cool-downs per model name (see the module docstring)."""

    def __init__(
        self, retry: RetryConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.retry = retry or RetryConfig()
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def record(self, model: str, error: BaseException | None) -> None:
        """One finished call of ``model``: ``None`` for a success."""
        if error is None:
            self._circuits.pop(model, None)
            return
        if self.retry.circuit_failures <= 0:
            return
        if not isinstance(error, UpstreamError) or not error.retryable:
            return
        c = self._circuits.setdefault(model, _Circuit())
        c.failures += 1
        c.last_error = error.kind
        now = self._clock()
        if c.until > now:  # already out: a call that began before says nothing new
            return
        if c.failures < self.retry.circuit_failures:
            return
        cooldown = min(
            self.retry.circuit_max_cooldown_s, self.retry.circuit_cooldown_s * 2.0**c.opens
        )
        if error.retry_after is not None:
            cooldown = max(cooldown, error.retry_after)
        c.opens += 1
        c.until = now + cooldown

    def open_reason(self, model: str) -> str | None:
        """Why ``model`` is out for now, or ``None`` when it may be called."""
        c = self._circuits.get(model)
        if c is None or c.until <= 0.0:
            return None
        left = c.until - self._clock()
        if left <= 0.0:
            return None  # cool-down over: the next call is the trial
        return f"{c.failures} failures in a row (last: {c.last_error}); out for another {left:.0f}s"

    def open_models(self) -> dict[str, str]:
        """Every model out for now, with why."""
        out: dict[str, str] = {}
        for name in list(self._circuits):
            reason = self.open_reason(name)
            if reason is not None:
                out[name] = reason
        return out

    def view(self, tiers: Mapping[Tier, TierInfo]) -> Mapping[Tier, TierInfo]:
        """``tiers`` with the models that are out marked unavailable (with why), so that
        routing plans around them; ``tiers`` itself while none is."""
        if not self._circuits:
            return tiers
        out = self.open_models()
        return _with_reasons(tiers, out) if out else tiers


def _with_reasons(tiers: Mapping[Tier, TierInfo], out: Mapping[str, str]) -> dict[Tier, TierInfo]:
    def mark(m: ModelInfo) -> ModelInfo:
        if m.name not in out or not m.available:
            return m
        return replace(m, available=False, unavailable_reason=f"circuit open: {out[m.name]}")

    return {
        t: replace(info, models=tuple(mark(m) for m in info.models)) for t, info in tiers.items()
    }
