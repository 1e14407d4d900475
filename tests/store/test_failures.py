"""A failed trace write never fails the request, and no trace is lost: outages spool,
restarts replay, bad input is rejected whole."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest

from pgserver import PG_DSN
from switchtower.errors import TraceStoreError
from switchtower.store import SafeTraceWriter, Spool, SqlTraceStore, default_spool_path, open_store
from switchtower.store.codec import trace_to_dict
from switchtower.types import Usage

from .factories import attempt, trace

CLOSED_PG = "postgresql://postgres@127.0.0.1:1/test"


def _short_waits(db_url: str) -> str:
    """The same database, but give up on a lock after 200 ms instead of waiting."""
    if db_url.startswith("postgresql"):
        return db_url + "%20-clock_timeout%3D200"
    return db_url


@contextlib.contextmanager
def outage(db_url: str) -> Iterator[None]:
    """Another client holds the trace tables locked: every write fails meanwhile."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    options = parse_qs(urlparse(db_url).query)["options"][0]
    with psycopg.connect(PG_DSN, options=options) as conn:
        conn.execute("LOCK TABLE traces IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def _open(db_url: str, spool_dir: Path) -> SqlTraceStore:
    return open_store(_short_waits(db_url), spool_dir=spool_dir, busy_timeout_ms=50)


def test_outage_is_spooled_and_heals_without_restart(db_url: str, spool_dir: Path) -> None:
    store = _open(db_url, spool_dir)
    writer = SafeTraceWriter(store)
    try:
        before, during, after = trace(), [trace(), trace()], trace()
        writer.write(before)
        with outage(db_url):
            for t in during:
                writer.write(t)  # must not raise
        assert writer.stats()["failures"] == 2
        assert writer.stats()["spooled"] == 2
        assert store.spool is not None
        assert len(store.spool) == 2
        writer.write(after)  # the store is back: the spool is replayed in the background
        store.replay_spool()  # (and replaying twice is harmless)
        for t in [before, *during, after]:
            got = store.get(t.id)
            assert got is not None
            assert len(got.attempts) == len(t.attempts)
        assert store.count() == 4
        assert not store.spool.pending()
        assert writer.stats()["replayed"] == 2
    finally:
        store.close()


def test_restart_replays_the_spool(db_url: str, spool_dir: Path) -> None:
    store = _open(db_url, spool_dir)
    lost = trace()
    with outage(db_url), pytest.raises(TraceStoreError):
        store.write(lost)  # the bare store raises, but has kept the trace
    store.close()  # "crash": nothing in memory survives
    reopened = _open(db_url, spool_dir)  # the same URL finds the same spool
    try:
        assert reopened.get(lost.id) is not None
        assert reopened.spool is not None
        assert not reopened.spool.pending()
    finally:
        reopened.close()


def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(TraceStoreError, match="could not"):
        open_store(CLOSED_PG)


def test_writer_starts_while_the_database_is_down(tmp_path: Path) -> None:
    """Gateway starts with PostgreSQL on a closed port: requests carry on, traces are
    spooled, and once a database answers the spool lands in it."""
    good = f"sqlite:///{tmp_path / 'traces.db'}"
    now = [0.0]
    urls = [CLOSED_PG]

    def opener() -> SqlTraceStore:
        return open_store(urls[-1], spool_dir=tmp_path)

    writer = SafeTraceWriter(
        None,
        spool=Spool(default_spool_path(good, tmp_path)),
        opener=opener,
        reopen_interval_s=5.0,
        clock=lambda: now[0],
    )
    ts = [trace(), trace()]
    for t in ts:
        writer.write(t)
    assert writer.stats()["failures"] == 2
    assert writer.stats()["spooled"] == 2
    assert writer.success_counts("code.edit") == ({}, {})
    with pytest.raises(TraceStoreError):
        writer.recent()
    urls.append(good)  # the database comes back
    now[0] = 10.0
    last = trace()
    writer.write(last)
    assert writer.stats()["written"] == 1
    assert {t.id for t in writer.recent(10)} == {t.id for t in [*ts, last]}
    writer.close()


def test_safe_open_on_a_closed_port_does_not_raise(tmp_path: Path) -> None:
    writer = SafeTraceWriter.open(CLOSED_PG, spool_dir=tmp_path)
    writer.write(trace())
    assert writer.stats()["spooled"] == 1
    assert writer.spool is not None
    assert len(writer.spool) == 1


def test_replay_rejects_torn_and_bad_lines_and_keeps_the_rest(
    tmp_path: Path, spool_dir: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    spool = Spool(default_spool_path(url, spool_dir))
    good = [trace(), trace()]
    bad = trace(attempts=(attempt(usage=Usage(2**70, 0)),))
    spool.path.parent.mkdir(parents=True)
    lines = [json.dumps(trace_to_dict(good[0])), '{"id": "torn', json.dumps(trace_to_dict(bad))]
    lines.append(json.dumps(trace_to_dict(good[1])))
    spool.path.write_text("\n".join(lines) + "\n")
    store = open_store(url, spool_dir=spool_dir)  # replays on open
    try:
        assert {t.id for t in store.recent(10)} == {t.id for t in good}
        assert not spool.pending()
        rejected = spool.rejected_path.read_text().splitlines()
        assert len(rejected) == 2
        assert store.replayed == 2
        assert store.rejected == 2
    finally:
        store.close()


def test_memory_store_has_no_spool() -> None:
    store = open_store("sqlite://")
    try:
        store.write(trace())
        assert store.count() == 1
        assert store.spool is None
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////data/x/traces.db", Path("/data/x/traces.db.spool.jsonl")),
    ],
)
def test_spool_lives_beside_a_sqlite_file(url: str, expected: Path) -> None:
    assert default_spool_path(url) == expected


def test_spool_for_a_server_database_is_named_by_its_url(tmp_path: Path) -> None:
    paths: Callable[[str], Path] = lambda u: default_spool_path(u, tmp_path)  # noqa: E731
    a = paths("postgresql://u:secret1@db/a")
    assert a.parent == tmp_path
    assert a != paths("postgresql://u@db/b")
    assert a == paths("postgresql://u:other@db/a")  # the password is not part of it
    assert "secret1" not in str(a)
