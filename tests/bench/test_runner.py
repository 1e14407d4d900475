"""End to end: a tiny synthetic workload through the production pipeline and the replay."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from switchtower.bench.loaders import load_file
from switchtower.bench.plot import plot_curve
from switchtower.bench.runner import BenchOptions, run_offline, run_online
from switchtower.bench.workload import select_split
from switchtower.cli import cli
from switchtower.config.schema import Config
from switchtower.queue import JobStore
from switchtower.registries import classifiers
from switchtower.types import Classification, Request

from .conftest import RB_MODELS, write_routerbench

STRONG, MID, LOCAL = RB_MODELS


class KeywordClassifier:
    """A test double speaking the Classifier protocol: the operation whose examples share
    the most words with the prompt (confidence = share of the best overlap)."""

    def __init__(self, config: Config, **_: Any) -> None:
        self.vocab = {
            o.name: {w for e in o.examples for w in e.lower().split()} for o in config.operations
        }

    def classify(self, request: Request) -> Classification:
        words = set(request.prompt.lower().split())
        scores = {op: len(words & v) for op, v in self.vocab.items()}
        total = sum(scores.values()) or 1
        op = max(sorted(scores), key=lambda k: scores[k])
        return Classification(operation=op, confidence=scores[op] / total, backend="keyword")


@pytest.fixture(autouse=True)
def _keyword_classifier() -> None:
    if "bench-keyword" not in classifiers:
        classifiers.add("bench-keyword", KeywordClassifier)


def _rows(prefix: str, n: int) -> list[dict[str, object]]:
    """Half arithmetic (the local model is always right), half proofs (only GPT-4 is)."""
    rows: list[dict[str, object]] = []
    for i in range(n):
        arith = i % 2 == 0
        prompt = (
            f"add the numbers {i} and {i + 3} then report the sum"
            if arith
            else f"prove the theorem number {i} about prime gaps rigorously with lemmas"
        )
        q = {STRONG: 1.0, MID: 1.0 if arith else 0.0, LOCAL: 1.0 if arith else 0.0}
        rows.append(
            {
                "sample_id": f"{prefix}.{i}",
                "prompt": prompt,
                "eval_name": "arith" if arith else "proofs",
                "q": q,
                "cost": {STRONG: 0.01, MID: 0.001, LOCAL: 0.0002},
            }
        )
    return rows


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    train = write_routerbench(tmp_path / "toy_train.csv", _rows("train", 120))
    test = write_routerbench(tmp_path / "toy_test.csv", _rows("test", 40))
    return train, test


def _check_summary(s: Mapping[str, Any]) -> None:
    for key in ("quality", "quality_retained", "cost_fraction", "tier_shares", "deadline_misses"):
        assert key in s
    assert set(s["tier_shares"]) == {"local", "async", "realtime", "cache"}
    assert sum(s["tier_shares"].values()) == pytest.approx(1.0, abs=1e-3)


def test_offline_run_end_to_end(files: tuple[Path, Path], tmp_path: Path) -> None:
    train = select_split(load_file(files[0]), "train")
    test = select_split(load_file(files[1]), "test")
    options = BenchOptions(
        classifier="bench-keyword",
        thresholds=(0.0, 0.5, 0.8, 1.0),
        value_multiples=(0.01, 1.0, 100.0),
    )
    data = run_offline(train, test, options, workdir=tmp_path / "work").to_json()
    _check_summary(data["summary"])
    assert set(data["datasets"]) == {"arith", "proofs"}
    for per in data["datasets"].values():
        _check_summary(per)
    assert set(data["baselines"]) == {"always-frontier", "always-cheapest", "oracle", "random"}
    assert data["summary"]["deadline_misses"] == 0
    assert data["summary"]["errors"] == 0
    # the sweep at the default threshold re-decides exactly as the real pipeline did
    assert data["consistency"]["sweep_matches_pipeline"] == data["n_test"]
    assert data["classifier"]["accuracy"] == 1.0
    # arithmetic is free and always right locally: the fitted policy keeps it local;
    # proofs only GPT-4 gets right: they leave the local tier
    assert data["datasets"]["arith"]["tier_shares"]["local"] >= 0.5
    assert data["datasets"]["proofs"]["tier_shares"]["local"] <= 0.5
    assert data["summary"]["quality"] >= data["baselines"]["always-cheapest"]["summary"]["quality"]
    # the value rule's sweep: cheap successes keep work local, dear ones buy GPT-4
    values = data["sweep_value"]
    assert values["unit_usd"] > 0
    points = values["points"]
    assert [p["multiple"] for p in points] == list(options.value_multiples)
    low, high = points[0], points[-1]
    assert low["tier_shares"]["local"] > high["tier_shares"]["local"]
    assert high["quality"] > low["quality"]
    assert high["cost_fraction"] > low["cost_fraction"]
    for r in data["routellm"].values():
        assert "apgr_value_rule" in r
    best = data["best_within_target_cost"]
    assert best["value"] is None or best["value"]["cost_fraction"] <= 0.15
    png = plot_curve(data, tmp_path / "curve.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    # the async tier's answers went through the production job queue
    jobs = JobStore.open(f"sqlite:///{tmp_path / 'work' / 'jobs-0.db'}")
    try:
        async_served = round(data["summary"]["tier_shares"]["async"] * data["n_test"])
        assert async_served > 0
        assert jobs.counts() == {"completed": async_served}
    finally:
        jobs.close()


def test_cli_bench_writes_json_and_plot(files: tuple[Path, Path], tmp_path: Path) -> None:
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            "--train",
            str(files[0]),
            "--test",
            str(files[1]),
            "--json",
            str(out),
            "--plot",
            str(png),
            "--seed",
            "3",
            "--classifier",
            "bench-keyword",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "always-frontier" in result.output
    data = json.loads(out.read_text("utf-8"))
    _check_summary(data["summary"])
    assert data["seed"] == 3
    assert png.stat().st_size > 0


def test_online_mode_serves_days_and_learns_at_night(tmp_path: Path) -> None:
    """Arithmetic is free and right locally, proofs only GPT-4 gets right: served from the
    priors on day 1, the nights learn from what was served, later days route better."""
    train = select_split(load_file(write_routerbench(tmp_path / "t.csv", _rows("a", 60))), "train")
    test_file = write_routerbench(tmp_path / "toy_test.csv", _rows("b", 400))
    test = select_split(load_file(test_file), "test")
    options = BenchOptions(mode="online", classifier="bench-keyword", days=4)
    data = run_online(train, test, options, workdir=tmp_path / "w1").to_json()
    again = run_online(train, test, options, workdir=tmp_path / "w2").to_json()
    assert data["mode"] == "online"
    _check_summary(data["summary"])
    assert [d["day"] for d in data["days"]] == [1, 2, 3, 4]
    assert sum(d["summary"]["n"] for d in data["days"]) == data["n_test"] == 400
    assert [d["summary"] for d in again["days"]] == [d["summary"] for d in data["days"]]
    nights = [n for d in data["days"] for n in d["nights"]]
    assert all(n["scored"] > 0 and n["reason"] for n in nights)
    assert any(n["published"] for n in nights)
    assert data["days"][0]["nights"][0]["served_with"] == "builtin"
    first, last = data["days"][0]["summary"], data["days"][-1]["summary"]
    assert last["quality"] > first["quality"]  # 0.56 on the priors, 1.0 once learned
    assert data["summary"]["deadline_misses"] == 0
    assert data["routellm"] == {}


def test_drift_holds_a_dataset_back_and_reports_its_recovery(tmp_path: Path) -> None:
    train = select_split(load_file(write_routerbench(tmp_path / "t.csv", _rows("a", 60))), "train")
    test = select_split(
        load_file(write_routerbench(tmp_path / "t_test.csv", _rows("b", 200))), "test"
    )
    options = BenchOptions(
        mode="online", classifier="bench-keyword", days=4, drift="proofs", drift_day=3
    )
    data = run_online(train, test, options, workdir=tmp_path / "w").to_json()
    days = data["days"]
    assert [d["drift"]["new"] is None for d in days] == [True, True, False, False]
    assert sum(d["drift"]["new"]["n"] for d in days[2:]) == sum(
        1 for i in test if i.dataset == "proofs"
    )
    drift = data["drift"]
    assert (drift["dataset"], drift["first_day"]) == ("proofs", 3)
    after = drift["recovered_after_nights"]
    assert after is None or 0 <= after <= 1
    with pytest.raises(Exception, match="no test items of dataset 'nope'"):
        run_online(train, test, BenchOptions(mode="online", drift="nope"), workdir=tmp_path / "x")


def test_cli_online_mode_prints_the_days(files: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            "--train",
            str(files[0]),
            "--test",
            str(files[1]),
            "--mode",
            "online",
            "--days",
            "2",
            "--classifier",
            "bench-keyword",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "switchtower bench (online, seed 0)" in result.output
    assert "nightly (per deployment)" in result.output


def test_cli_rejects_unknown_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n", "utf-8")
    result = CliRunner().invoke(cli, ["bench", "--train", str(bad), "--test", str(bad)])
    assert result.exit_code != 0
    assert "notes.txt" in result.output


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--local-cost", "-1"], "-1.0 is not in the range x>=0.0"),
        (["--drift", "mbpp"], "--drift and --drift-day apply to --mode online"),
        (["--json", "{tmp}/a-file/out.json"], "cannot write {tmp}/a-file/out.json"),
        (["--data-dir", "{tmp}/nowhere"], "(the data folder: --data-dir or $SWITCHTOWER_DATA_DIR)"),
    ],
)
def test_bench_refuses_bad_options_before_it_runs(
    tmp_path: Path, args: list[str], said: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    given = [a.format(tmp=tmp_path) for a in args]
    # no data anywhere: every check comes before the files are looked at
    base = ["bench", "--dataset", "mixed", "--data-dir", str(tmp_path / "nowhere")]
    result = CliRunner().invoke(cli, [*base, *given])
    assert result.exit_code == 2
    assert said.format(tmp=tmp_path) in result.output
    assert "Traceback" not in result.output
