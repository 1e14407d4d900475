"""`switchtower keys`, the loopback-only rule of `switchtower serve`, and where its
workers count rate limits and budgets."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner

from switchtower.cli import cli
from switchtower.config import load_config
from switchtower.server.factory import limiter_kind


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "switchtower.yaml"
    path.write_text(f"storage:\n  url: sqlite:///{tmp_path / 'traces.db'}\n", encoding="utf-8")
    return path


def test_keys_create_list_revoke(config_file: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(
        cli,
        ["keys", "create", "--name", "ci", "--rpm", "5", "--daily-budget-usd", "1.5",
         "--config", str(config_file)],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("st-")
    listed = runner.invoke(cli, ["keys", "list", "--json", "--config", str(config_file)])
    (key,) = json.loads(listed.stdout)
    assert key["name"] == "ci"
    assert key["rpm"] == 5
    assert key["daily_budget_usd"] == 1.5
    assert secret not in listed.stdout
    revoked = runner.invoke(cli, ["keys", "revoke", key["id"], "--config", str(config_file)])
    assert revoked.exit_code == 0
    again = runner.invoke(cli, ["keys", "revoke", key["id"], "--config", str(config_file)])
    assert again.exit_code == 1


def test_serve_without_keys_refuses_a_public_bind(config_file: Path) -> None:
    result = CliRunner().invoke(
        cli, ["serve", "--host", "0.0.0.0", "--port", "0", "--config", str(config_file)]
    )
    assert result.exit_code == 2
    assert "no API keys configured: binding to loopback only" in result.output


def test_serve_on_a_taken_port_says_so_before_starting(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: ran.append(a))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["serve", "--port", str(port), "--config", str(config_file)]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.output
    assert "switchtower gateway on" not in result.output
    assert ran == []


def test_a_misspelt_provider_is_a_config_error_naming_its_key(config_file: Path) -> None:
    config_file.write_text(
        config_file.read_text(encoding="utf-8")
        + "tiers:\n  local:\n    models:\n      - {name: m, provider: olama}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["route", "hello", "--config", str(config_file)])
    assert result.exit_code == 2
    assert "tiers.local.models[0].provider: unknown providers 'olama'" in result.output
    known = result.output.split("(known: ", 1)[1]
    assert {"anthropic", "llamacpp", "openai"} <= set(known.rstrip(")\n").split(", "))


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker", "--once"]])
def test_webhooks_without_a_signing_secret_stop_serve_and_worker_before_they_start(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.delenv("SWITCHTOWER_WEBHOOK_SECRET", raising=False)
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(
        text + "queue:\n  webhooks:\n    allow: [https://hooks.example.com/st/]\n",
        encoding="utf-8",
    )
    ran: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: ran.append(a))
    result = CliRunner().invoke(cli, [*command, "--config", str(config_file)])
    assert result.exit_code == 2
    assert "$SWITCHTOWER_WEBHOOK_SECRET (the signing secret) is not set" in result.output
    assert "Traceback" not in result.output
    assert ran == []


@pytest.mark.parametrize(
    ("limiter", "expected", "said"),
    [
        ("auto", "sql", "rate limits and budgets are counted in sqlite:///"),
        ("memory", None, "counted per worker process"),
    ],
)
def test_serve_with_workers_shares_limits_through_the_database(
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    limiter: str,
    expected: str | None,
    said: str,
) -> None:
    """Several workers on SQLite count limits in the database file, unless told not to;
    every worker builds its app from the environment the command leaves for it."""
    config_file.write_text(config_file.read_text() + f"  limiter: {limiter}\n", "utf-8")
    ran: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: ran.update(kw))
    for var in ("SWITCHTOWER_STORAGE__LIMITER", "SWITCHTOWER_CONFIG"):  # restored after
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    result = CliRunner().invoke(
        cli, ["serve", "--workers", "2", "--port", "0", "--config", str(config_file)]
    )
    assert result.exit_code == 0, result.output
    assert ran["workers"] == 2
    assert said in result.output
    assert os.environ.get("SWITCHTOWER_STORAGE__LIMITER") == expected
    worker_config = load_config()  # what each worker reads ($SWITCHTOWER_CONFIG + env)
    assert limiter_kind(worker_config) == (expected or "memory")
