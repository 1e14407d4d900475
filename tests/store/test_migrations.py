"""Migrations ship in the package, run from empty, match the models, and are safe to
run from several processes at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from switchtower.store import migrate, open_store
from switchtower.store.models import Base


def test_script_location_is_inside_the_package() -> None:
    location = Path(migrate.alembic_config().get_main_option("script_location") or "")
    assert (location / "env.py").is_file()
    assert any((location / "versions").glob("v*.py"))
    assert migrate.head_revision() is not None


def test_migrations_from_empty_match_the_models(db_url: str, spool_dir: Path) -> None:
    store = open_store(db_url, spool_dir=spool_dir)
    try:
        with store.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
            names = set(sa.inspect(conn).get_table_names())
            assert {"traces", "attempts", migrate.VERSION_TABLE} <= names
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": migrate.VERSION_TABLE}
            )
            diffs = [d for d in compare_metadata(ctx, Base.metadata) if d[0] != "remove_table"]
            assert diffs == []
    finally:
        store.close()


def test_reopening_is_a_no_op_and_downgrade_upgrade_roundtrips(
    db_url: str, spool_dir: Path
) -> None:
    open_store(db_url, spool_dir=spool_dir).close()
    engine = migrate.create_engine(db_url)
    try:
        cfg = migrate.alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        with engine.connect() as conn:
            assert "traces" not in sa.inspect(conn).get_table_names()
        migrate.upgrade(engine)
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
    finally:
        engine.dispose()


def test_concurrent_first_opens_migrate_once(db_url: str, spool_dir: Path) -> None:
    """Gateway replicas starting together on an empty database must not collide."""

    def one(_: int) -> str:
        store = open_store(db_url, spool_dir=spool_dir)
        try:
            return store.url
        finally:
            store.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert len(list(pool.map(one, range(4)))) == 4
    engine = migrate.create_engine(db_url)
    try:
        with engine.connect() as conn:
            table = sa.table(migrate.VERSION_TABLE, sa.column("version_num"))
            assert list(conn.execute(sa.select(table.c.version_num))) == [
                (migrate.head_revision(),)
            ]
    finally:
        engine.dispose()


def test_postgres_urls_use_psycopg3() -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        assert migrate.normalize_url(url).drivername == "postgresql+psycopg"
