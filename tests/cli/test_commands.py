"""The CLI end to end: init, route --json, run against a fake upstream, traces, report,
and bad input that exits non-zero with a clear message and leaves no trace behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fakes.openai_upstream import FakeOpenAI
from switchtower.cli import cli
from switchtower.types import FAILURE_MODES


def write_config(tmp_path: Path, fake: FakeOpenAI) -> Path:
    cfg = {
        "tiers": {
            "local": {"models": [{"name": "fake-local", "provider": "openai",
                                  "model": "fake-small", "base_url": fake.base_url,
                                  "input_per_mtok": 0.0, "output_per_mtok": 0.0,
                                  "context_window": 4096}]},
            "async": {"models": []},
            "realtime": {"models": [{"name": "fake-frontier", "provider": "openai",
                                     "model": "fake-big", "base_url": fake.base_url,
                                     "input_per_mtok": 2.0, "output_per_mtok": 8.0,
                                     "context_window": 8192}]},
        },
        "retry": {"max_attempts": 2, "base_delay_s": 0.0, "max_delay_s": 0.0},
        "storage": {"url": f"sqlite:///{tmp_path / 'traces.db'}"},
    }  # fmt: skip
    path = tmp_path / "switchtower.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for var in ("SWITCHTOWER_CONFIG", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def test_init_writes_the_defaults_and_refuses_to_overwrite(runner: CliRunner) -> None:
    first = runner.invoke(cli, ["init"])
    assert first.exit_code == 0, first.output
    text = Path("switchtower.yaml").read_text()
    assert "tiers:" in text
    assert "operations:" in text
    again = runner.invoke(cli, ["init"])
    assert again.exit_code != 0
    assert "exists" in again.output


def test_route_json_shape_with_built_in_defaults(runner: CliRunner) -> None:
    """The JSON shape later checks rely on, in an empty folder with no keys."""
    res = runner.invoke(
        cli, ["route", "Drop the users table in production and force-push main", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    for key in ("operation", "confidence", "tier", "model", "signals", "explanation"):
        assert key in out
    assert set(out["signals"]) == set(FAILURE_MODES)
    for sig in out["signals"].values():
        assert 0.0 <= sig["score"] <= 1.0
    assert out["signals"]["high_consequence_write"]["score"] >= 0.5
    assert out["tier"] == "realtime"  # the default guard for high-consequence writes
    assert out["executable"] is False  # no API key on this machine: said, not faked
    assert out["model"] in out["unavailable"]


def test_run_then_traces_and_report(
    runner: CliRunner, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    cfg = str(write_config(tmp_path, fake_openai))
    res = runner.invoke(
        cli, ["run", "Translate 'good night' into Spanish", "--config", cfg, "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["answer"] == "echo: Translate 'good night' into Spanish"
    trace_id = out["trace_id"]

    listed = runner.invoke(cli, ["traces", "--config", cfg, "--json"])
    assert listed.exit_code == 0, listed.output
    assert [t["id"] for t in json.loads(listed.output)] == [trace_id]

    one = runner.invoke(cli, ["traces", trace_id, "--config", cfg])
    assert one.exit_code == 0, one.output
    assert trace_id in one.output

    rep = runner.invoke(cli, ["report", "--config", cfg, "--json"])
    assert rep.exit_code == 0, rep.output
    assert "counterfactual" in rep.output


def test_unreachable_upstream_is_a_clear_error_with_a_trace(
    runner: CliRunner, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    path = write_config(tmp_path, fake_openai)
    dead = path.read_text().replace(fake_openai.base_url, "http://127.0.0.1:9/v1")
    path.write_text(dead)
    res = runner.invoke(cli, ["run", "Say hi", "--config", str(path)])
    assert res.exit_code == 1
    assert "all_models_failed" in res.output
    assert "upstream_unavailable" in res.output
    listed = runner.invoke(cli, ["traces", "--config", str(path), "--json"])
    (trace,) = json.loads(listed.output)
    assert trace["status"] == "error"
    assert trace["error_kind"] == "all_models_failed"
    assert trace["attempts"], "every attempt is recorded on the failed trace"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["route", "   "], 3, "empty_prompt"),
        (["route", "x " * 2_000_000], 3, "context_too_large"),
        (["route", "hello", "--operation", "no-such-op"], 1, "unknown operation 'no-such-op'"),
        (["route", "hello", "--model", "no-such-model"], 1, "unknown model 'no-such-model'"),
    ],
)
def test_bad_requests_exit_non_zero(
    runner: CliRunner, args: list[str], code: int, needle: str
) -> None:
    res = runner.invoke(cli, args)
    assert res.exit_code == code, res.output
    assert needle in res.output


def test_bad_request_leaves_nothing_in_the_store(
    runner: CliRunner, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    cfg = str(write_config(tmp_path, fake_openai))
    res = runner.invoke(cli, ["run", "", "--config", cfg])
    assert res.exit_code == 3
    listed = runner.invoke(cli, ["traces", "--config", cfg, "--json"])
    assert json.loads(listed.output) == []


def test_a_refused_run_is_traced_and_counted_in_the_report(
    runner: CliRunner, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    cfg = str(write_config(tmp_path, fake_openai))
    res = runner.invoke(cli, ["run", "Summarize the notes", "--tier", "async", "--config", cfg])
    assert res.exit_code == 1
    assert "no_eligible_model" in res.output
    listed = runner.invoke(cli, ["traces", "--config", cfg, "--json"])
    (trace,) = json.loads(listed.output)
    assert (trace["status"], trace["error_kind"], trace["model"]) == (
        "error",
        "no_eligible_model",
        "",
    )
    report = json.loads(runner.invoke(cli, ["report", "--config", cfg, "--json"]).output)
    assert report["total"]["errors"] == 1
    assert report["total"]["counterfactual_cost_usd"] == 0.0  # no spend to compare with


def test_invalid_config_names_file_and_key(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("selector:\n  confidence_threshold: high\n")
    res = runner.invoke(cli, ["route", "hello", "--config", str(bad)])
    assert res.exit_code == 2
    assert str(bad) in res.output
    assert "selector.confidence_threshold" in res.output


def test_console_script_is_installed(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("switchtower")
    res = subprocess.run(
        [str(exe), "route", "Summarize this paragraph for me: it rained.", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["tier"] in ("local", "async", "realtime")
