"""Alembic environment for the trace store.

switchtower runs migrations programmatically (``switchtower.store.migrate``), handing
over an open connection in ``config.attributes["connection"]``; there is no alembic.ini.
To write a new revision during development (files are named ``v<rev>_<slug>.py``)::

    from alembic import command
    from switchtower.store import migrate
    command.revision(migrate.alembic_config(), "add column x", rev_id="0002")
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from switchtower.store.models import Base

VERSION_TABLE = "switchtower_alembic_version"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "switchtower migrations run through switchtower.store.migrate with a connection"
        )
    _run(connection)


_main()
