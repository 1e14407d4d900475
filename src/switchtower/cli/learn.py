"""`learn` (one pass of the nightly loop) and `policy` (published versions, rollback)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click

from switchtower.cli.common import config_option, echo_json, exits_on_error, load
from switchtower.config import Config
from switchtower.errors import ConfigError
from switchtower.nightly import PolicyHistory, run_nightly

__all__ = ["learn_commands"]


def _history(config: Config) -> PolicyHistory:
    if not config.router.policy:
        raise ConfigError(
            "router.policy is not set: the nightly loop publishes to the policy file the "
            "router reads (e.g. router.policy: switchtower-policy.json)",
            key="router.policy",
        )
    return PolicyHistory(config.router.policy)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "-"


@click.command()
@click.option("--hours", default=24.0, show_default=True, help="Score traces this far back.")
@click.option("--min-holdout", default=10, show_default=True, help="Held-out traces needed.")
@click.option("--dry-run", is_flag=True, help="Fit and gate, publish nothing.")
@click.option("--json", "as_json", is_flag=True)
@config_option
@exits_on_error
def learn(
    hours: float, min_holdout: int, dry_run: bool, as_json: bool, config_path: str | None
) -> None:
    """The nightly loop: score recent traces, fit, gate on held-out ones, publish."""
    from switchtower.store import open_store

    config = load(config_path)
    history = _history(config)
    now = time.time()
    window = (now - hours * 3600.0, now)
    store = open_store(config.storage.url)
    try:
        report = run_nightly(
            config,
            store.iter_traces(*window),
            history,
            window=window,
            min_holdout=min_holdout,
            dry_run=dry_run,
            now=now,
        )
    finally:
        store.close()
    if as_json:
        echo_json(report.to_json())
        return
    click.echo(
        f"{report.traces} traces in the window, {report.scored} judged "
        f"({report.train} to fit, {report.holdout} held out)"
    )
    if report.already_learned:
        click.echo(
            f"  {report.already_learned} more the active policy already learned from (skipped)"
        )
    if report.by_source:
        click.echo("  judged by " + ", ".join(f"{k} {n}" for k, n in report.by_source.items()))
    for model, (n, q) in report.by_model.items():
        click.echo(f"  {model}: {n} judged, mean quality {q:.2f}")
    verdict = f"published {report.new_version}" if report.published else "not published"
    click.echo(f"{verdict}: {report.reason}")


@click.group()
def policy() -> None:
    """Published policy versions (the nightly loop's); roll back to any of them."""


@policy.command("list")
@click.option("--json", "as_json", is_flag=True)
@config_option
@exits_on_error
def list_versions(as_json: bool, config_path: str | None) -> None:
    """Every kept version, oldest first; * marks the active one."""
    history = _history(load(config_path))
    versions = history.versions()
    if as_json:
        echo_json(
            [
                {
                    "version": v.version,
                    "created_at": v.created_at,
                    "parent": v.parent,
                    "active": v.active,
                    "meta": v.meta,
                }
                for v in versions
            ]
        )
        return
    active = history.current().version
    if not versions:
        click.echo(f"no published versions yet (active: {active})")
    elif not any(v.active for v in versions):
        what = "the built-in priors" if active == "builtin" else "not in the history"
        click.echo(f"* {active}  ({what})")
    for v in versions:
        gate = v.meta.get("nightly", {})
        losses = (
            f"  held-out log-loss {gate['loss_parent']:.4f} -> {gate['loss_candidate']:.4f}"
            if "loss_parent" in gate
            else ""
        )
        mark = "*" if v.active else " "
        click.echo(f"{mark} {v.version}  {_when(v.created_at)}  parent {v.parent}{losses}")


@policy.command("rollback")
@click.argument("version", required=False)
@config_option
@exits_on_error
def rollback(version: str | None, config_path: str | None) -> None:
    """Make VERSION (default: the active policy's parent; `builtin` for the priors)
    active again; a running gateway picks it up within router.reload_s."""
    restored = _history(load(config_path)).rollback(version)
    click.echo(f"active policy: {restored.version}")


learn_commands = (learn, policy)
