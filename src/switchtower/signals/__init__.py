"""Signals computed before routing: complexity, context size, deadline, history and
five failure-mode signals, each a score in [0, 1] with its evidence (docs/signals.md)."""

from switchtower.signals.attached import attached_code
from switchtower.signals.complexity import complexity
from switchtower.signals.extractor import HeuristicSignalExtractor, explain_signals
from switchtower.signals.failure_modes import compute_failure_modes, task_text
from switchtower.signals.repo_context import missing_repo_context

__all__ = [
    "HeuristicSignalExtractor",
    "attached_code",
    "complexity",
    "compute_failure_modes",
    "explain_signals",
    "missing_repo_context",
    "task_text",
]
