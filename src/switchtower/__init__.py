"""switchtower: a routing gateway for AI agents."""

from switchtower.config import Config, load_config
from switchtower.errors import SwitchtowerError
from switchtower.types import (
    TIERS,
    UNKNOWN,
    Classification,
    Completion,
    Decision,
    Request,
    RouteDecision,
    RunResult,
    Selection,
    Signal,
    Signals,
    Tier,
    Trace,
)

__all__ = [
    "TIERS",
    "UNKNOWN",
    "Classification",
    "Completion",
    "Config",
    "Decision",
    "Request",
    "RouteDecision",
    "RunResult",
    "Selection",
    "Signal",
    "Signals",
    "SwitchtowerError",
    "Tier",
    "Trace",
    "load_config",
]
