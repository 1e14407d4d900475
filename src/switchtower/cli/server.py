"""`switchtower serve` and `switchtower keys` (create, list, revoke)."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import sys

import click

from switchtower.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    config_option,
    echo_json,
    exits_on_error,
    load,
)

__all__ = ["is_loopback_host", "server_commands"]

log = logging.getLogger(__name__)

NO_KEYS = "no API keys configured: binding to loopback only"


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default=None, help="Bind address (default: server.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: server.port, 8787).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@config_option
@exits_on_error
def serve(  # noqa: PLR0917 - click passes options as keywords
    host: str | None,
    port: int | None,
    workers: int,
    log_level: str,
    access_log: bool,
    config_path: str | None,
) -> None:
    """Run the HTTP gateway (OpenAI- and Anthropic-compatible) under uvicorn."""
    import uvicorn

    from switchtower.queue.webhooks import signing_key
    from switchtower.server.factory import limiter_kind
    from switchtower.server.keys import KeyStore

    config = load(config_path)
    if config.queue.worker:  # the worker starts inside the server: fail now, not there
        signing_key(config.queue.webhooks)
    host = host or config.server.host
    port = config.server.port if port is None else port
    keys = KeyStore.open(config.storage.url)
    try:
        have_keys = keys.any_issued()
    finally:
        keys.close()
    if not have_keys:
        if not is_loopback_host(host):
            click.echo(
                f"error: {NO_KEYS}; refusing to bind {host}. Create a key first: "
                "switchtower keys create --name NAME",
                err=True,
            )
            sys.exit(EXIT_CONFIG)
        click.echo(f"{NO_KEYS} (requests are not authenticated)", err=True)
    if workers > 1 and limiter_kind(config) == "memory":
        if config.storage.limiter == "memory":
            click.echo(
                "warning: several workers with storage.limiter memory: rate limits and "
                "budgets are counted per worker process",
                err=True,
            )
        else:  # auto on SQLite: the workers share the database file's counters
            os.environ["SWITCHTOWER_STORAGE__LIMITER"] = "sql"
            click.echo(
                f"{workers} workers: rate limits and budgets are counted in {config.storage.url}",
                err=True,
            )
    _check_port(host, port)
    click.echo(f"switchtower gateway on http://{host}:{port} (OpenAI: /v1, docs: /openapi.json)")
    if config_path:
        os.environ["SWITCHTOWER_CONFIG"] = os.path.abspath(config_path)
    try:
        uvicorn.run(
            "switchtower.server.factory:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            access_log=access_log,
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
    except SystemExit as exc:  # uvicorn exits 3 when it cannot start: not a bad request
        if exc.code not in (0, None):
            sys.exit(EXIT_FAILED)
        raise


def _check_port(host: str, port: int) -> None:
    """Say so, and exit 1, before starting when the address is taken (uvicorn would
    say it only after the start-up banner, and exit 3, which here means a bad request)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            click.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
            sys.exit(EXIT_FAILED)


@click.group()
def keys() -> None:
    """Issue, list and revoke the gateway's API keys (stored hashed in storage.url)."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--daily-budget-usd", type=float, default=None, help="USD per UTC day.")
@click.option("--rpm", type=int, default=None, help="Requests per minute.")
@config_option
@exits_on_error
def keys_create(
    name: str, daily_budget_usd: float | None, rpm: int | None, config_path: str | None
) -> None:
    """Issue a key. It is printed once and never stored: keep it."""
    from switchtower.server.keys import KeyStore

    store = KeyStore.open(load(config_path).storage.url)
    try:
        key, secret = store.create(name, daily_budget_usd=daily_budget_usd, rpm=rpm)
    finally:
        store.close()
    click.echo(f"created {key.id} ({key.name})", err=True)
    click.echo("the key is shown once; store it now:", err=True)
    click.echo(secret)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@config_option
@exits_on_error
def keys_list(as_json: bool, config_path: str | None) -> None:
    """Every key issued (never the secrets)."""
    from switchtower.server.keys import KeyStore

    store = KeyStore.open(load(config_path).storage.url)
    try:
        issued = store.list()
    finally:
        store.close()
    if as_json:
        echo_json([k.to_json() for k in issued])
        return
    if not issued:
        click.echo("no keys")
        return
    for k in issued:
        budget = f"${k.daily_budget_usd:g}/day" if k.daily_budget_usd is not None else "no budget"
        rpm = f"{k.rpm} rpm" if k.rpm is not None else "no rate limit"
        state = "active" if k.active else "revoked"
        click.echo(f"{k.id}  {k.display}  {state:7}  {budget:14}  {rpm:14}  {k.name}")


@keys.command("revoke")
@click.argument("key_id")
@config_option
@exits_on_error
def keys_revoke(key_id: str, config_path: str | None) -> None:
    """Revoke a key by id (gateways stop accepting it within their cache TTL, 5 s)."""
    from switchtower.server.keys import KeyStore

    store = KeyStore.open(load(config_path).storage.url)
    try:
        revoked = store.revoke(key_id)
    finally:
        store.close()
    if not revoked:
        click.echo(f"error: no active key {key_id!r}", err=True)
        sys.exit(1)
    click.echo(f"revoked {key_id}")


server_commands: tuple[click.Command, ...] = (serve, keys)
