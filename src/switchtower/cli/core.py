"""`init`, `route`, `run`, `traces`, `report`, `demo`."""

from __future__ import annotations

import click

__all__ = ["core_commands"]

core_commands: tuple[click.Command, ...] = ()
