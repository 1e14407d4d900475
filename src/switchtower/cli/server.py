"""`switchtower serve` and `switchtower keys` (filled in by the gateway issue)."""

from __future__ import annotations

import click

__all__ = ["server_commands"]

server_commands: tuple[click.Command, ...] = ()
