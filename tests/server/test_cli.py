"""`switchtower keys` and the loopback-only rule of `switchtower serve`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from switchtower.cli import cli


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
