"""The trace store on SQLite and PostgreSQL: roundtrips, filters, outcomes, history."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from switchtower.errors import TraceStoreError
from switchtower.protocols import HistorySource, TraceStore
from switchtower.store import SqlTraceStore, migrate, open_store
from switchtower.store.codec import trace_from_dict, trace_row, trace_to_dict
from switchtower.store.models import AttemptRow, TraceRow
from switchtower.types import Outcome, Usage

from .factories import T0, attempt, judged, trace


def _rows(store: SqlTraceStore, table: type[TraceRow] | type[AttemptRow]) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def test_store_speaks_both_protocols(store: SqlTraceStore) -> None:
    ts: TraceStore = store
    hs: HistorySource = store
    assert ts is hs


def test_write_get_roundtrip_with_attempts(store: SqlTraceStore) -> None:
    t = trace(prompt="fix the bug", api_key_id="key-1", experiment="exp", arm="gpt-x")
    store.write(t)
    got = store.get(t.id)
    assert got is not None
    assert len(got.attempts) == 2
    for a, b in zip(got.attempts, t.attempts, strict=True):
        # timestamps are stored to the microsecond; everything else exactly
        assert a.started_at == pytest.approx(b.started_at, abs=1e-5)
        assert replace(a, started_at=0.0) == replace(b, started_at=0.0)
    assert got.created_at == pytest.approx(t.created_at, abs=1e-5)
    # everything but the microsecond-rounded timestamps comes back exactly
    for name in ("id", "request_digest", "operation", "confidence", "tier", "model"):
        assert getattr(got, name) == getattr(t, name)
    for name in ("deadline", "status", "usage", "cost_usd", "counterfactual_cost_usd"):
        assert getattr(got, name) == getattr(t, name)
    for name in ("latency_ms", "policy_version", "experiment", "arm", "api_key_id", "prompt"):
        assert getattr(got, name) == getattr(t, name)
    assert dict(got.signals) == dict(t.signals)
    assert dict(got.decision) == dict(t.decision)
    assert got.outcome is None
    assert store.get("no-such-id") is None


def test_prompt_is_not_stored_unless_given(store: SqlTraceStore) -> None:
    t = trace()
    store.write(t)
    got = store.get(t.id)
    assert got is not None
    assert got.prompt is None
    assert got.request_digest == t.request_digest


def test_recent_newest_first_with_filters(store: SqlTraceStore) -> None:
    ts = [
        trace(created_at=T0 + 10, operation="a", tier="local", model="small"),
        trace(created_at=T0 + 20, operation="b", tier="realtime"),
        trace(created_at=T0 + 30, operation="a", tier="realtime", status="error"),
    ]
    store.write_many(ts)
    assert [t.id for t in store.recent(10)] == [ts[2].id, ts[1].id, ts[0].id]
    assert [t.id for t in store.recent(2)] == [ts[2].id, ts[1].id]
    assert [t.id for t in store.recent(10, operation="a")] == [ts[2].id, ts[0].id]
    assert [t.id for t in store.recent(10, tier="local")] == [ts[0].id]
    assert [t.id for t in store.recent(10, status="error")] == [ts[2].id]
    assert [t.id for t in store.recent(10, since=T0 + 15)] == [ts[2].id, ts[1].id]
    assert len(store.recent(10)[0].attempts) == 2


def test_iter_traces_pages_in_time_order_within_bounds(store: SqlTraceStore) -> None:
    ts = [trace(created_at=T0 + i) for i in range(7)]
    store.write_many(list(reversed(ts)))
    got = list(store.iter_traces(T0 + 1, T0 + 6, batch_size=2))
    assert [t.id for t in got] == [t.id for t in ts[1:6]]
    assert all(len(t.attempts) == 2 for t in got)
    bare = list(store.iter_traces(with_attempts=False, batch_size=3))
    assert len(bare) == 7
    assert all(t.attempts == () for t in bare)


def test_lookup_by_unique_prefix(store: SqlTraceStore) -> None:
    a = trace(id="abcd1111" + "0" * 24)
    b = trace(id="abcd2222" + "0" * 24)
    store.write_many([a, b])
    found = store.lookup("abcd1")
    assert found is not None
    assert found.id == a.id
    with pytest.raises(TraceStoreError, match="ambiguous"):
        store.lookup("abcd")
    assert store.lookup("ffff") is None


def test_duplicate_id_fails_and_keeps_the_first(store: SqlTraceStore) -> None:
    t = trace()
    store.write(t)
    with pytest.raises(TraceStoreError):
        store.write(trace(id=t.id, model="other"))
    got = store.get(t.id)
    assert got is not None
    assert got.model == t.model
    assert store.write_many([trace(id=t.id), trace()], skip_existing=True) == 1


def test_bad_input_leaves_nothing_half_written(store: SqlTraceStore) -> None:
    """The trace row is inserted before its attempts; an attempt the database refuses
    (a token count beyond BIGINT) must roll the trace row back too."""
    bad = trace(attempts=(attempt(), attempt(usage=Usage(2**70, 0))))
    before = (_rows(store, TraceRow), _rows(store, AttemptRow))
    with pytest.raises(TraceStoreError):
        store.write(bad)
    assert (_rows(store, TraceRow), _rows(store, AttemptRow)) == before
    assert store.get(bad.id) is None
    assert store.rejected == 1
    assert store.spool is not None
    assert bad.id in store.spool.rejected_path.read_text()
    assert not store.spool.pending()  # bad input is not retried forever


def test_non_finite_numbers_are_refused_before_the_database(store: SqlTraceStore) -> None:
    with pytest.raises(TraceStoreError, match="finite"):
        store.write(trace(cost_usd=math.nan))
    t = trace(signals={"complexity": math.inf}, decision={"x": math.nan})
    store.write(t)  # inside JSON, non-finite numbers become null rather than failing
    got = store.get(t.id)
    assert got is not None
    assert got.signals == {"complexity": None}


def test_record_outcome(store: SqlTraceStore) -> None:
    t = trace()
    store.write(t)
    assert store.record_outcome(t.id, Outcome(success=True, score=0.9, comment="ok", source="user"))
    got = store.get(t.id)
    assert got is not None
    assert got.outcome == Outcome(success=True, score=0.9, comment="ok", source="user")
    assert not store.record_outcome("missing", Outcome(success=False))


def test_success_counts_from_judged_traces(store: SqlTraceStore) -> None:
    cases = [
        ("local", "small", judged(True)),
        ("local", "small", judged(False)),
        ("local", "tiny", judged(score=0.25)),
        ("realtime", "gpt-x", judged(True)),
        ("realtime", "gpt-x", None),  # no outcome yet: not a trial
        ("realtime", "gpt-x", Outcome(comment="just a note")),  # not judged: not a trial
    ]
    for tier, model, outcome in cases:
        t = trace(tier=tier, model=model)
        store.write(t)
        if outcome is not None:
            store.record_outcome(t.id, outcome)
    store.write(trace(operation="other", outcome=judged(True)))
    tiers, models = store.success_counts("code.edit")
    # expected, from the cases above: judged ones only; a score counts fractionally
    assert dict(tiers) == {"local": (1.25, 3.0), "realtime": (1.0, 1.0)}
    assert dict(models) == {"small": (1.0, 2.0), "tiny": (0.25, 1.0), "gpt-x": (1.0, 1.0)}
    assert store.success_counts("other") == ({"realtime": (1.0, 1.0)}, {"gpt-x": (1.0, 1.0)})
    assert store.success_counts("never-seen") == ({}, {})


def test_success_counts_are_cached_not_queried_per_request(db_url: str, spool_dir: Path) -> None:
    from switchtower.store import open_store

    now = [0.0]
    store = open_store(db_url, spool_dir=spool_dir, history_ttl_s=60.0)
    store._clock = lambda: now[0]  # a controllable clock for the TTL
    queries: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    try:
        store.success_counts("code.edit")
        first = len(queries)
        assert first >= 1
        for _ in range(100):
            store.success_counts("code.edit")
        assert len(queries) == first  # within the TTL: no query at all
        t = trace(outcome=judged(True))
        store.write(t)
        now[0] = 61.0  # stale: served from the old snapshot, refreshed in the background
        assert store.success_counts("code.edit") == ({}, {})
        fresh = store.refresh_history()
        assert fresh.by_op["code.edit"][0] == {"realtime": (1.0, 1.0)}
    finally:
        store.close()


def test_concurrent_writers_lose_nothing(store: SqlTraceStore) -> None:
    ts = [trace() for _ in range(40)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(store.write, ts))
    assert store.count() == 40
    assert _rows(store, AttemptRow) == 80


def test_two_stores_share_one_database(db_url: str, spool_dir: Path) -> None:
    """A CLI and a gateway open the same database: both see each other's traces."""
    from switchtower.store import open_store

    a = open_store(db_url, spool_dir=spool_dir)
    b = open_store(db_url, spool_dir=spool_dir)
    try:
        stop = threading.Event()
        seen: list[int] = []

        def reader() -> None:
            while not stop.is_set():
                seen.append(len(b.recent(5)))

        th = threading.Thread(target=reader)
        th.start()
        for _ in range(20):
            a.write(trace())
        stop.set()
        th.join()
        assert b.count() == 20
    finally:
        a.close()
        b.close()


def test_prompt_cache_tokens_round_trip(store: SqlTraceStore) -> None:
    usage = Usage(1200, 40, cache_read_tokens=1000, cache_write_tokens=150)
    t = trace(usage=usage)
    store.write(t)
    got = store.get(t.id)
    assert got is not None
    assert got.usage == usage
    # the spool's JSON form too (a trace written while the database was down)
    assert trace_from_dict(trace_to_dict(t)).usage == usage
    plain = trace()
    assert "cache_read_tokens" not in trace_to_dict(plain)["usage"]


def test_a_database_from_before_cache_tokens_keeps_its_traces(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'old.db'}"
    engine = migrate.create_engine(db)
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    old = trace(usage=Usage(500, 20))
    row = {k: v for k, v in trace_row(old).items() if not k.startswith("cache_")}
    with engine.begin() as conn:
        conn.execute(sa.insert(TraceRow.__table__), [row])  # only the columns given
    engine.dispose()
    store = open_store(db, spool_dir=tmp_path)
    try:
        got = store.get(old.id)
        assert got is not None
        assert got.usage == Usage(500, 20)
    finally:
        store.close()
