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
from collections.abc import Mapping

from switchtower.protocols import TierInfo
from switchtower.route.policy import Policy
from switchtower.route.predictor import Predictor
from switchtower.types import Tier

__all__ = ["PolicySource"]

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
        self._compiled: tuple[Mapping[Tier, TierInfo], Predictor] | None = None

    def _load(self) -> Policy:
        if self.path is None:
            return Policy.builtin()
        try:
            self._mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            log.warning("policy %s not found: using the built-in priors", self.path)
            self._mtime = None
            return Policy.builtin()
        return Policy.load(self.path)

    @property
    def policy(self) -> Policy:
        self._maybe_reload()
        return self._policy

    def _maybe_reload(self) -> None:
        if self.path is None or self.reload_s <= 0:
            return
        now = time.monotonic()
        if now - self._checked < self.reload_s:
            return
        self._checked = now
        try:
            mtime: float | None = os.stat(self.path).st_mtime
        except FileNotFoundError:
            mtime = None
        if mtime != self._mtime and mtime is not None:
            self._policy = Policy.load(self.path)
            self._mtime = mtime
            self._compiled = None
            log.info("loaded policy %s (version %s)", self.path, self._policy.version)

    def predictor(self, tiers: Mapping[Tier, TierInfo]) -> Predictor:
        """The policy compiled against these tiers (recompiled when either changes)."""
        self._maybe_reload()
        compiled = self._compiled
        if compiled is not None and (compiled[0] is tiers or compiled[0] == tiers):
            return compiled[1]
        pred = Predictor(self._policy, tiers, history_weight=self.history_weight)
        self._compiled = (tiers, pred)
        return pred
