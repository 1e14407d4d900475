"""`switchtower bench` (filled in by its issue)."""

from __future__ import annotations

import click

__all__ = ["bench"]


@click.group()
def bench() -> None:
    """Not available yet."""
