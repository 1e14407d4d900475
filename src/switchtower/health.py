"""Model health: a circuit breaker per model server, in this process.

A server (``ModelInfo.endpoint``: provider, base URL, upstream model, and the key
variable; a local model and its queued twin share one) whose calls fail with a retryable
error (429, 5xx, a refused connection, a timeout) for ``retry.circuit_failures`` requests
in a row is taken out for
a cool-down: routing plans around its entries as if they were unavailable, the executor
skips them as fallbacks and the queue worker holds their jobs, so requests stop paying a
dead server's timeout before they fall back. A request counts once however many times it
retried (one client's bad prompt cannot take a model out for everyone).

The cool-down starts at ``retry.circuit_cooldown_s`` (or the upstream's Retry-After, if
longer) and doubles each time the server fails again right after one, never beyond
``retry.circuit_max_cooldown_s``. When it ends, one call is let through as a trial
(half-open; the others keep going around it until the trial ends): a success closes the
circuit, a failure opens it again at once. A rejected request (another 4xx) says nothing
about the server's health and does not count; a cancelled call neither.

State is per process (each gateway replica and worker learns on its own).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from switchtower.config.schema import RetryConfig
from switchtower.errors import NoEligibleModelError, UpstreamError
from switchtower.protocols import ModelInfo, TierInfo
from switchtower.types import Tier

__all__ = ["HealthBook"]

#: provider, base URL, upstream model, key variable
Key = tuple[str, str | None, str, str | None]

#: doublings of the cool-down past which it is at its cap anyway (no float overflow)
_MAX_DOUBLINGS = 30


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    #: consecutive openings without a success between them (the cool-down doubles)
    opens: int = 0
    until: float = 0.0
    last_error: str = ""
    #: when the half-open trial call began (0: none in flight)
    trial_since: float = 0.0
    #: the configured entries served here (for reports)
    names: set[str] = field(default_factory=set)


class HealthBook:
    """Failures in a row and cool-downs per model server (see the module docstring)."""

    def __init__(
        self, retry: RetryConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.retry = retry or RetryConfig()
        self._clock = clock
        self._circuits: dict[Key, _Circuit] = {}

    def record(self, model: ModelInfo, error: BaseException | None) -> None:
        """The outcome of one request's calls to ``model``: ``None`` for a success, else
        the last error."""
        key = _key(model)
        if error is None:
            self._circuits.pop(key, None)
            return
        c = self._circuits.get(key)
        if c is not None and c.trial_since and not _counts(error):
            c.trial_since = 0.0  # the trial said nothing: let another one through
        if self.retry.circuit_failures <= 0 or not _counts(error):
            return
        assert isinstance(error, UpstreamError)
        if c is None:
            c = self._circuits[key] = _Circuit()
        c.names.add(model.name)
        c.failures += 1
        c.last_error = error.kind
        now = self._clock()
        if c.until > now:  # already out: a call that began before says nothing new
            return
        if c.failures < self.retry.circuit_failures:
            return
        cap = self.retry.circuit_max_cooldown_s
        cooldown = self.retry.circuit_cooldown_s * 2.0 ** min(c.opens, _MAX_DOUBLINGS)
        if error.retry_after is not None:
            cooldown = max(cooldown, error.retry_after)
        c.opens += 1
        c.until = now + min(cap, cooldown)
        c.trial_since = 0.0

    def begin(self, model: ModelInfo) -> bool:
        """A call to ``model`` starts: after a cool-down it is the trial (True), and the
        server stays out for everyone else until its outcome is recorded (or the caller
        that owns the trial :meth:`release` s it)."""
        c = self._circuits.get(_key(model))
        if c is not None and c.until > 0.0 and not c.trial_since and c.until <= self._clock():
            c.trial_since = self._clock()
            return True
        return False

    def release(self, model: ModelInfo) -> None:
        """The trial call to ``model`` ended without an outcome (cancelled): the next call
        may be the trial. Only the caller :meth:`begin` made the trial calls this."""
        c = self._circuits.get(_key(model))
        if c is not None:
            c.trial_since = 0.0

    def on_trial(self, model: ModelInfo) -> bool:
        """Whether ``model``'s server is back from a cool-down but not yet proven: one
        call at a time until it is."""
        c = self._circuits.get(_key(model))
        return c is not None and c.until > 0.0

    def open_reason(self, model: ModelInfo) -> str | None:
        """Why ``model`` is out for now, or ``None`` when it may be called."""
        c = self._circuits.get(_key(model))
        return None if c is None else self._reason(c)

    def _reason(self, c: _Circuit) -> str | None:
        if c.until <= 0.0:
            return None
        now = self._clock()
        why = f"{c.failures} failed requests in a row (last: {c.last_error})"
        if c.until > now:
            return f"{why}; out for another {c.until - now:.0f}s"
        # a trial that never reported (its caller vanished) stops holding after a while
        if c.trial_since and now - c.trial_since < self.retry.circuit_max_cooldown_s:
            return f"{why}; a trial call is in flight"
        return None

    def open_models(self, models: Iterable[ModelInfo] = ()) -> dict[str, str]:
        """Every entry that is out for now, with why: of ``models`` (every configured
        entry, twins sharing a server included), and those whose own calls failed."""
        out: dict[str, str] = {}
        for c in list(self._circuits.values()):
            reason = self._reason(c)
            if reason is not None:
                out.update(dict.fromkeys(sorted(c.names), reason))
        for m in models:
            reason = self.open_reason(m)
            if reason is not None:
                out[m.name] = reason
        return out

    def check(self, model: ModelInfo) -> None:
        """Refuse a request naming ``model`` while it is out (a 503 with Retry-After)."""
        reason = self.open_reason(model)
        if reason is not None:
            exc = NoEligibleModelError(f"the model {model.name!r} is out for now: {reason}")
            exc.retry_after = self._wait(self._circuits[_key(model)])
            raise exc

    def blame(self, refused: NoEligibleModelError, replan: Callable[[], object]) -> None:
        """When the request had a plan with every model in (``replan`` succeeds), the
        models that are out refused it: say when to come back."""
        waits = [self._wait(c) for c in self._circuits.values() if self._reason(c)]
        if not waits:
            return
        try:
            replan()
        except NoEligibleModelError:
            return
        refused.retry_after = min(waits)

    def _wait(self, c: _Circuit) -> float:
        return max(1.0, c.until - self._clock())

    def view(self, tiers: Mapping[Tier, TierInfo]) -> Mapping[Tier, TierInfo]:
        """``tiers`` with the models that are out marked unavailable (with why), so that
        routing plans around them; ``tiers`` itself while none is."""
        if not any(c.until > 0.0 for c in self._circuits.values()):
            return tiers  # nothing ever opened: most requests stop here
        out = {
            m.name: reason
            for info in tiers.values()
            for m in info.models
            if (reason := self.open_reason(m)) is not None
        }
        return _with_reasons(tiers, out) if out else tiers


def _key(model: ModelInfo) -> Key:
    """One circuit per server and credential: entries that share both (a local model and
    its queued twin) share one; another key's 429s are not this one's."""
    return (*model.endpoint, model.spec.api_key_env if model.spec is not None else None)


def _counts(error: BaseException) -> bool:
    """Whether ``error`` says something about the server's health."""
    return isinstance(error, UpstreamError) and error.retryable


def _with_reasons(tiers: Mapping[Tier, TierInfo], out: Mapping[str, str]) -> dict[Tier, TierInfo]:
    def mark(m: ModelInfo) -> ModelInfo:
        if m.name not in out or not m.available:
            return m
        return replace(m, available=False, unavailable_reason=f"circuit open: {out[m.name]}")

    return {
        t: replace(info, models=tuple(mark(m) for m in info.models)) for t, info in tiers.items()
    }
