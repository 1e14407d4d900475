"""The CLI's side of deferred requests: `run --async` queues a job, `worker --once`
sends and polls its batch at the fake OpenAI Batch API, `jobs` shows the answer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fakes.openai_upstream import FakeOpenAI
from switchtower.cli import cli

POLL_S = 0.5


def write_config(tmp_path: Path, fake: FakeOpenAI) -> str:
    priced = {
        "base_url": fake.base_url,
        "input_per_mtok": 2.0,
        "output_per_mtok": 8.0,
        "context_window": 8192,
    }
    cfg = {
        "tiers": {
            "local": {"models": []},
            "async": {"batch_discount": 0.5, "models": [
                {"name": "fake-batch", "provider": "openai", "model": "fake-big",
                 "batch": True, "max_delay_s": 86400, **priced}]},
            "realtime": {"models": [
                {"name": "fake-frontier", "provider": "openai", "model": "fake-big", **priced}]},
        },
        # polls are due POLL_S after a submit: long enough that a slow pass does not
        # submit and poll at once, short enough to wait out between passes
        "queue": {"linger_s": 0, "poll_s": POLL_S, "rescue_margin_s": 0},
        "retry": {"max_attempts": 1, "base_delay_s": 0.0},
        "storage": {"url": f"sqlite:///{tmp_path / 'st.db'}"},
    }  # fmt: skip
    path = tmp_path / "switchtower.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for var in ("SWITCHTOWER_CONFIG", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def test_run_async_then_worker_then_jobs(
    runner: CliRunner, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    cfg = write_config(tmp_path, fake_openai)
    text = "Summarize the attached release notes for the changelog"
    args = ["run", text, "--config", cfg, "--deadline", "batch", "--tier", "async"]
    queued = runner.invoke(cli, [*args, "--async", "--json"])
    assert queued.exit_code == 0, queued.output
    job = json.loads(queued.output)
    assert (job["status"], job["model"]) == ("queued", "fake-batch")

    fake_openai.batch_polls_until_done = 0
    passes = []
    for _ in range(3):
        tick = runner.invoke(cli, ["worker", "--once", "--config", cfg])
        assert tick.exit_code == 0, tick.output
        passes.append(tick.output.strip())
        time.sleep(POLL_S)  # the next poll is due
    assert passes[0] == "worker pass: batches submitted 1, jobs submitted 1"
    assert "completed 1" in passes[1]
    assert passes[2] == "worker pass: nothing to do"
    shown = runner.invoke(cli, ["jobs", job["id"], "--config", cfg, "--json"])
    assert shown.exit_code == 0, shown.output
    done = json.loads(shown.output)
    assert done["status"] == "completed"
    assert done["answer"] == f"echo: {text}"
    listed = runner.invoke(cli, ["jobs", "--config", cfg])
    assert job["id"] in listed.output
    assert "1 completed" in listed.output
    again = runner.invoke(cli, [*args, "--async"])
    assert again.exit_code == 0, again.output
    assert "for fake-batch (a provider batch API)" in again.output

    # without --async the batch entry is not eligible, and the pinned tier has no other
    pinned = runner.invoke(cli, args)
    assert pinned.exit_code == 1
    assert "did not accept a deferred answer" in pinned.output
    # unpinned, it is answered now, in real time
    now = runner.invoke(cli, ["run", text, "--config", cfg, "--deadline", "batch", "--json"])
    assert now.exit_code == 0, now.output
    assert json.loads(now.output)["answered_by"] == "fake-frontier"


def test_jobs_unknown_id_is_a_clear_error(
    runner: CliRunner, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    cfg = write_config(tmp_path, fake_openai)
    res = runner.invoke(cli, ["jobs", "nope", "--config", cfg])
    assert res.exit_code == 1
    assert "no job 'nope'" in res.output
