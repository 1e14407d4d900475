"""Shared CLI plumbing: loading config, building the pipeline, turning errors into exits."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from switchtower.config import Config, load_config
from switchtower.errors import ConfigError, InvalidRequestError, SwitchtowerError

__all__ = [
    "config_option",
    "echo_json",
    "exits_on_error",
    "load",
    "run_async",
]

P = ParamSpec("P")
R = TypeVar("R")

#: exit codes: 1 = the operation failed, 2 = usage or config error, 3 = bad request
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_BAD_REQUEST = 3


def config_option(f: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Config file (default: $SWITCHTOWER_CONFIG, else ./switchtower.yaml, else "
        "built-in defaults).",
    )(f)


def load(config_path: str | None) -> Config:
    return load_config(config_path)


def exits_on_error(f: Callable[P, R]) -> Callable[P, R]:
    """Print a switchtower error as one clear line on stderr and exit non-zero."""

    @functools.wraps(f)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return f(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"error: config: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        except InvalidRequestError as exc:
            click.echo(f"error: {exc.kind}: {exc}", err=True)
            sys.exit(EXIT_BAD_REQUEST)
        except SwitchtowerError as exc:
            click.echo(f"error: {exc.kind}: {exc}", err=True)
            sys.exit(EXIT_FAILED)

    return wrapper


def run_async(coro: Coroutine[Any, Any, R] | Awaitable[R]) -> R:
    async def main() -> R:
        return await coro

    return asyncio.run(main())


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def writable(path: str) -> None:
    """Create ``path``'s folder and check a file can be written there, before a long run
    whose result would go to it (a click usage error otherwise)."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    if target.is_dir() or not os.access(target if target.exists() else target.parent, os.W_OK):
        raise click.UsageError(f"cannot write {path}")
