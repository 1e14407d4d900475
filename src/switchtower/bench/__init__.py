"""The routing benchmark: recorded outcomes replayed through the production pipeline.

See ``docs/benchmark.md``. Entry points: :func:`load_files` (format detected from
content), :func:`run_offline`, and the ``switchtower bench`` command.
"""

from switchtower.bench.loaders import FORMATS, detect_format, load_file, load_files
from switchtower.bench.metrics import Served, Summary, apgr, cpt, pgr, summarize
from switchtower.bench.replay import ReplayProvider
from switchtower.bench.report import BenchResult
from switchtower.bench.runner import BenchOptions, run_offline, run_online
from switchtower.bench.tiers import TierPlan, is_api_model
from switchtower.bench.workload import (
    DeadlineMix,
    ModelOutcome,
    WorkloadItem,
    gold_operation,
    hash_split,
    select_split,
)

__all__ = [
    "FORMATS",
    "BenchOptions",
    "BenchResult",
    "DeadlineMix",
    "ModelOutcome",
    "ReplayProvider",
    "Served",
    "Summary",
    "TierPlan",
    "WorkloadItem",
    "apgr",
    "cpt",
    "detect_format",
    "gold_operation",
    "hash_split",
    "is_api_model",
    "load_file",
    "load_files",
    "pgr",
    "run_offline",
    "run_online",
    "select_split",
    "summarize",
]
