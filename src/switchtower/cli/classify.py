"""`switchtower classify` (filled in by its issue)."""

from __future__ import annotations

import click

__all__ = ["classify"]


@click.group()
def classify() -> None:
    """Not available yet."""
