"""The nightly loop on judged traces in a real SQLite store: it learns what the traces
show, publishes only what predicts held-out outcomes better, keeps every version, and
rolls back; the router's policy source picks a published version up."""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from switchtower.cli import cli
from switchtower.config import load_config
from switchtower.config.schema import Config
from switchtower.nightly import PolicyHistory, run_nightly
from switchtower.nightly.run import _held_out, _tiers
from switchtower.nightly.scoring import score_trace
from switchtower.route.predictor import Predictor
from switchtower.route.source import PolicySource
from switchtower.store import SqlTraceStore, open_store
from switchtower.types import FAILURE_MODES, Outcome, Tier, Trace, Usage

NOW = time.time()
MODELS: dict[str, Tier] = {"small": "local", "big": "realtime"}


def config(tmp_path: Path) -> Config:
    def model(name: str, price: float) -> dict[str, Any]:
        return {"name": name, "provider": "openai", "base_url": "http://127.0.0.1:9/v1",
                "input_per_mtok": price, "output_per_mtok": price}  # fmt: skip

    return Config.model_validate(
        {
            "operations": [{"name": "summarize"}],
            "tiers": {
                "local": {"models": [model("small", 0.0)]},
                "realtime": {"models": [model("big", 5.0)]},
            },
            "router": {"policy": str(tmp_path / "policy.json")},
            "storage": {"url": f"sqlite:///{tmp_path / 'st.db'}"},
        }
    )


def judged(i: int, model: str, tier: Tier, complexity: float, ok: bool) -> Trace:
    return Trace(
        id=f"t{i:05d}",
        created_at=NOW - 3600 + i,
        request_digest="d" * 64,
        operation="summarize",
        confidence=0.95,
        tier=tier,
        model=model,
        deadline="interactive",
        signals={"complexity": complexity, **dict.fromkeys(FAILURE_MODES, 0.0)},
        decision={"alternatives": [["summarize", 0.95]], "context_tokens": 400},
        usage=Usage(400, 100),
        cost_usd=0.0 if tier == "local" else 0.0025,
        outcome=Outcome(success=ok),
    )


def small_fails_on_hard_items(n: int, seed: int = 0) -> list[Trace]:
    """The local model answers easy items well and hard ones badly; big answers all."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        cx = rng.random()
        if i % 2:
            out.append(judged(i, "small", "local", cx, rng.random() < (0.95 if cx < 0.5 else 0.2)))
        else:
            out.append(judged(i, "big", "realtime", cx, rng.random() < 0.9))
    return out


@pytest.fixture
def store(tmp_path: Path) -> SqlTraceStore:
    return open_store(f"sqlite:///{tmp_path / 'st.db'}", spool_dir=tmp_path)


def nightly(cfg: Config, store: SqlTraceStore, **kw: Any) -> Any:
    assert cfg.router.policy is not None
    window = (NOW - 86400, NOW + 1)
    return run_nightly(
        cfg, store.iter_traces(*window), PolicyHistory(cfg.router.policy), window=window, **kw
    )


def test_the_loop_learns_what_the_judged_traces_show(tmp_path: Path, store: SqlTraceStore) -> None:
    cfg = config(tmp_path)
    store.write_many(small_fails_on_hard_items(600))
    # not judged, and judged but failed (no quality signal): neither is learned from
    late = NOW - 10
    store.write(replace(judged(99998, "big", "realtime", 0.3, True), outcome=None, created_at=late))
    store.write(
        replace(judged(99999, "small", "local", 0.3, False), status="error", created_at=late)
    )
    report = nightly(cfg, store)
    assert (report.traces, report.scored) == (602, 600)
    assert report.holdout >= 100
    assert report.published, report.reason
    assert report.loss_candidate < report.loss_active
    history = PolicyHistory(cfg.router.policy or "")
    active = history.current()
    assert active.version == report.new_version
    assert active.parent == "builtin"
    assert active.meta["nightly"]["holdout"] == report.holdout
    small_s, small_n = active.evidence["summarize"]["small"]
    assert small_n == 300
    assert 0.45 < small_s / small_n < 0.7
    assert [v.version for v in history.versions()] == [report.new_version]
    # the feature weights separate easy items from hard ones for the local model
    easy, hard = (score_trace(judged(0, "small", "local", cx, True), MODELS) for cx in (0.1, 0.9))
    assert easy is not None
    assert hard is not None
    predictor = Predictor(active, _tiers(cfg))
    p_easy = predictor.predict(easy.classification, easy.signals)["small"].p
    p_hard = predictor.predict(hard.classification, hard.signals)["small"].p
    assert p_easy > 0.8
    assert p_hard < 0.4

    # the same window again (a re-run, a retried cron job): nothing is counted twice
    again = nightly(cfg, store, now=NOW + 60)
    assert (again.already_learned, again.traces, again.scored) == (601, 1, 0)  # 1 unjudged
    assert not again.published
    assert history.current().evidence["summarize"]["small"] == (small_s, small_n)
    # verdicts recorded after the pass are new evidence, whenever their request came: a
    # job answered later (its trace keeps the request's time), feedback given later
    store.write(replace(judged(99997, "small", "local", 0.2, True), created_at=NOW - 7200))
    assert store.record_outcome(judged(5, "small", "local", 0.2, True).id, Outcome(success=False))
    later = nightly(cfg, store, now=NOW + 120)
    assert (later.already_learned, later.scored) == (600, 2)
    store.close()


def test_nothing_is_published_on_too_few_judged_traces(
    tmp_path: Path, store: SqlTraceStore
) -> None:
    cfg = config(tmp_path)
    store.write_many(small_fails_on_hard_items(20))
    report = nightly(cfg, store)
    assert not report.published
    assert "too few judged traces" in report.reason
    assert not Path(cfg.router.policy or "").exists()
    store.close()


def test_the_gate_refuses_an_update_the_held_out_traces_contradict(
    tmp_path: Path, store: SqlTraceStore
) -> None:
    """Fit traces say the local model always succeeds; held-out ones say it never does."""
    cfg = config(tmp_path)
    traces = [judged(i, "small", "local", 0.3, ok=not _held_out(f"t{i:05d}")) for i in range(400)]
    store.write_many(traces)
    report = nightly(cfg, store)
    assert not report.published
    assert report.loss_candidate >= report.loss_active
    assert "no better" in report.reason
    store.close()


def test_rollback_restores_the_parent_and_the_router_picks_it_up(
    tmp_path: Path, store: SqlTraceStore
) -> None:
    cfg = config(tmp_path)
    path = cfg.router.policy or ""
    store.write_many(small_fails_on_hard_items(600))
    first = nightly(cfg, store)
    assert first.published
    source = PolicySource(path, reload_s=0.01)
    assert source.policy.version == first.new_version
    history = PolicyHistory(path)
    restored = history.rollback()
    assert restored.version == "builtin"
    time.sleep(0.05)
    assert source.policy.version == "builtin"
    again = history.rollback(first.new_version)
    assert again.version == first.new_version
    time.sleep(0.05)
    assert source.policy.version == first.new_version
    with pytest.raises(Exception, match="no policy version 'nope'"):
        history.rollback("nope")
    store.close()


def test_cli_learn_list_and_rollback(tmp_path: Path, store: SqlTraceStore) -> None:
    cfg = config(tmp_path)
    store.write_many(small_fails_on_hard_items(600))
    store.close()
    path = tmp_path / "switchtower.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_defaults=True)))
    runner = CliRunner()
    dry = runner.invoke(cli, ["learn", "--config", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: would publish" in dry.output
    assert "judged by feedback 600" in dry.output
    assert not Path(cfg.router.policy or "").exists()
    res = runner.invoke(cli, ["learn", "--config", str(path), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["published"]
    assert report["by_source"] == {"feedback": 600}
    listed = runner.invoke(cli, ["policy", "list", "--config", str(path)])
    assert listed.exit_code == 0, listed.output
    assert f"* {report['new_version']}" in listed.output
    assert "held-out log-loss" in listed.output
    active = Path(cfg.router.policy or "")
    umask = os.umask(0)
    os.umask(umask)
    assert active.stat().st_mode & 0o777 == 0o666 & ~umask  # readable as any file written
    back = runner.invoke(cli, ["policy", "rollback", "--config", str(path)])
    assert back.exit_code == 0, back.output
    assert "active policy: builtin" in back.output
    listed = runner.invoke(cli, ["policy", "list", "--config", str(path)])
    assert listed.output.startswith("* builtin  (the built-in priors)\n"), listed.output


def test_cli_learn_works_on_the_defaults_and_needs_a_policy_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh `switchtower init` config learns into ./switchtower-policy.json (what the
    router reads by default); only `router.policy: null` turns learning off."""
    monkeypatch.chdir(tmp_path)
    storage = {"url": f"sqlite:///{tmp_path / 'st.db'}"}
    path = tmp_path / "switchtower.yaml"
    path.write_text(yaml.safe_dump({"storage": storage}))
    for command in (["learn"], ["policy", "list"]):
        res = CliRunner().invoke(cli, [*command, "--config", str(path)])
        assert res.exit_code == 0, res.output
    assert load_config(path).router.policy == "switchtower-policy.json"
    path.write_text(yaml.safe_dump({"storage": storage, "router": {"policy": None}}))
    res = CliRunner().invoke(cli, ["learn", "--config", str(path)])
    assert res.exit_code == 2
    assert "router.policy is not set" in res.output
