"""Published policy versions: every version the loop published is kept beside the active
file (``<policy>.history/<version>.json``); the active file is what the router reads
(``router.policy``; a running gateway picks a new one up within ``reload_s``).

Publishing writes the version to the history, then replaces the active file atomically.
Rolling back copies an older version over the active file: its version id stays the
same, so traces say which policy routed them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchtower.errors import ConfigError
from switchtower.route.policy import Policy

__all__ = ["PolicyHistory", "PolicyVersion"]


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version: str
    created_at: float
    parent: str | None
    active: bool
    meta: dict[str, Any]


class PolicyHistory:
    """The active policy file and its history directory."""

    def __init__(self, active: str | Path) -> None:
        self.active = Path(active)
        self.directory = self.active.with_name(self.active.stem + ".history")

    def current(self) -> Policy:
        """The active policy (the built-in priors when none was published yet)."""
        return Policy.load(self.active) if self.active.exists() else Policy.builtin()

    def publish(self, policy: Policy) -> None:
        policy.save(self.directory / f"{policy.version}.json")
        policy.save(self.active)

    def get(self, version: str) -> Policy:
        path = self.directory / f"{version}.json"
        if not path.exists():
            known = ", ".join(v.version for v in self.versions()) or "none"
            raise ConfigError(f"no policy version {version!r} in {self.directory} (kept: {known})")
        return Policy.load(path)

    def versions(self) -> list[PolicyVersion]:
        """Every kept version, oldest first."""
        active = self.current().version
        out = []
        for path in self.directory.glob("*.json") if self.directory.is_dir() else ():
            p = Policy.load(path)
            meta = dict(p.meta)
            out.append(PolicyVersion(p.version, p.created_at, p.parent, p.version == active, meta))
        return sorted(out, key=lambda v: (v.created_at, v.version))

    def rollback(self, version: str | None = None) -> Policy:
        """Make ``version`` (default: the active policy's parent) active again."""
        target = version or self.current().parent
        if target is None:
            raise ConfigError("the active policy has no parent to roll back to")
        # the built-in priors are written out too: a running router reloads on change
        policy = Policy.builtin() if target == "builtin" else self.get(target)
        policy.save(self.active)
        return policy
