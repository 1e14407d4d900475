"""The ``switchtower`` command line. Each command group lives in its own module."""

from __future__ import annotations

import click

from switchtower.cli.bench import bench
from switchtower.cli.classify import classify
from switchtower.cli.core import core_commands
from switchtower.cli.jobs import job_commands
from switchtower.cli.learn import learn_commands
from switchtower.cli.server import server_commands

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="switchtower")
def cli() -> None:
    """switchtower: route each agent request to the cheapest tier that will succeed."""


for _cmd in (*core_commands, *job_commands, *learn_commands, *server_commands, classify, bench):
    cli.add_command(_cmd)


def main() -> None:
    cli()
