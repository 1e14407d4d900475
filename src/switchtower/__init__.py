"""switchtower: a routing gateway for AI agents."""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from switchtower.pipeline import Pipeline

__all__ = [
    "TIERS",
    "UNKNOWN",
    "Classification",
    "Completion",
    "Config",
    "Decision",
    "Pipeline",
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


def __getattr__(name: str) -> Any:
    # the pipeline pulls in the SDKs; import it only when asked for
    if name == "Pipeline":
        from switchtower.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'switchtower' has no attribute {name!r}")
