"""The real public files in ``../shared/data`` (marker ``data``; skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from switchtower.bench.loaders import detect_format, load_file, load_files
from switchtower.bench.runner import BenchOptions, run_offline
from switchtower.bench.workload import select_split

pytestmark = pytest.mark.data

ROOT = Path(os.environ.get("SWITCHTOWER_DATA_DIR", "../shared/data")) / "routing"


@pytest.fixture(scope="module")
def root() -> Path:
    if not ROOT.is_dir():
        pytest.skip(f"shared data not found at {ROOT} (set SWITCHTOWER_DATA_DIR)")
    return ROOT


def test_every_public_file_loads(root: Path) -> None:
    expected = {
        "routerbench/arc_challenge_test.csv": ("routerbench", 437),
        "routerbench/mbpp_test.csv": ("routerbench", 128),
        "routellm/gsm8k/gsm8k_responses.csv": ("routellm-csv", 1319),
        "routellm/mt_bench/judgements.jsonl": ("routellm-mt-bench", 160),
    }
    for rel, (fmt, n) in expected.items():
        assert detect_format(root / rel).name == fmt
        items = load_file(root / rel)
        assert len(items) == n, rel
    gsm = load_file(root / "routellm/gsm8k/gsm8k_responses.csv")
    strong = sum(i.outcomes["gpt-4-1106-preview"].quality for i in gsm) / len(gsm)
    assert strong == pytest.approx(0.857, abs=0.001)  # data/README.md: 85.7%


def test_small_real_offline_run(root: Path, tmp_path: Path) -> None:
    files = ["routerbench/mbpp_train.csv", "routellm/mt_bench/judgements.jsonl"]
    tests = ["routerbench/mbpp_test.csv", "routellm/mt_bench/judgements.jsonl"]
    train = select_split(load_files([root / f for f in files]), "train")
    test = select_split(load_files([root / f for f in tests]), "test")
    data = run_offline(
        train, test, BenchOptions(thresholds=(0.5, 0.8, 0.95)), workdir=tmp_path
    ).to_json()
    assert set(data["datasets"]) == {"mbpp", "mt-bench"}
    assert data["summary"]["errors"] == 0
    assert data["summary"]["deadline_misses"] == 0
    assert data["routellm"]["mt-bench"]["apgr"] is not None
