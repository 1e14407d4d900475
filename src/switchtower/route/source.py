"""Where the router and the selector get their compiled policy from.

``config.router.policy`` names the artifact (``None``: built-in priors only). A missing
file falls back to the built-in priors (the nightly loop has not written one yet) and
says so in the log; an unreadable or invalid file is a :class:`ConfigError`. The file's
modification time is checked at most every ``reload_s`` seconds, so a policy written by
the nightly loop is picked up without a restart (and rolling back is replacing the file).
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Mapping

from switchtower.protocols import TierInfo
from switchtower.route.policy import Policy
from switchtower.route.predictor import Predictor
from switchtower.types import Tier

__all__ = ["PolicySource"]

#: tier sets a source keeps compiled predictors for
_COMPILED_KEPT = 4

log = logging.getLogger(__name__)


class PolicySource:
    """Loads the policy once, reloads it when the file changes, compiles per tiers."""

    def __init__(
        self,
        path: str | None,
        *,
        policy: Policy | None = None,
        reload_s: float = 5.0,
        history_weight: float = 1.0,
    ) -> None:
        self.path = path
        self.reload_s = reload_s
        self.history_weight = history_weight
        self._mtime: float | None = None
        self._checked = 0.0
        self._policy = policy if policy is not None else self._load()
        self._compiled: list[tuple[Mapping[Tier, TierInfo], Predictor]] = []

    def _load(self) -> Policy:
        if self.path is None:
            return Policy.builtin()
        try:
            self._mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            # the normal state until the nightly loop first publishes
            log.info("policy %s not found (yet): using the built-in priors", self.path)
            self._mtime = None
            return Policy.builtin()
        return Policy.load(self.path)

    @property
    def policy(self) -> Policy:
        self._maybe_reload()
        return self._policy

    @classmethod
    def shared(
        cls,
        path: str | None,
        *,
        policy: Policy | None = None,
        reload_s: float = 5.0,
        history_weight: float = 1.0,
    ) -> PolicySource:
        """The one live source for this policy file and these settings: a pipeline's router
        and selector get the same, so the policy is compiled once and the selector reuses
        the predictions the router just made for a request. A file rewritten since the
        source was made counts at once for whoever asks (it is checked here). With an
        explicit ``policy``, a source of its own."""
        if policy is not None:
            return cls(path, policy=policy, reload_s=reload_s, history_weight=history_weight)
        key = (path, reload_s, history_weight)
        source = _SHARED.get(key)
        if source is None:
            source = cls(path, reload_s=reload_s, history_weight=history_weight)
            _SHARED[key] = source
        else:
            source._reload_if_changed()
        return source

    def _maybe_reload(self) -> None:
        if self.path is None or self.reload_s <= 0:
            return
        now = time.monotonic()
        if now - self._checked < self.reload_s:
            return
        self._checked = now
        self._reload_if_changed()

    def _reload_if_changed(self) -> None:
        if self.path is None:
            return
        try:
            mtime: float | None = os.stat(self.path).st_mtime
        except FileNotFoundError:
            mtime = None
        if mtime != self._mtime and mtime is not None:
            self._policy = Policy.load(self.path)
            self._mtime = mtime
            self._compiled.clear()
            log.info("loaded policy %s (version %s)", self.path, self._policy.version)

    def predictor(self, tiers: Mapping[Tier, TierInfo]) -> Predictor:
        """The policy compiled against these tiers (recompiled when the policy changes;
        the last few tier sets are kept, for pipelines that share this source)."""
        self._maybe_reload()
        for known, pred in self._compiled:
            if known is tiers or known == tiers:
                return pred
        pred = Predictor(self._policy, tiers, history_weight=self.history_weight)
        self._compiled.insert(0, (tiers, pred))
        del self._compiled[_COMPILED_KEPT:]
        return pred


#: live sources by (path, reload_s, history_weight): see :meth:`PolicySource.shared`
_SHARED: weakref.WeakValueDictionary[tuple[str | None, float, float], PolicySource] = (
    weakref.WeakValueDictionary()
)
