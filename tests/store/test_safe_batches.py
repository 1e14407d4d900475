"""SafeTraceWriter.write_many: one transaction per batch, and a failed batch costs no
trace (each is then stored, spooled or rejected on its own)."""

from __future__ import annotations

from pathlib import Path

from switchtower.store import SafeTraceWriter, SqlTraceStore

from .factories import trace
from .test_failures import _open, outage


def test_a_batch_is_stored_in_one_transaction(store: SqlTraceStore) -> None:
    writer = SafeTraceWriter(store)
    commits: list[int] = []
    real = store.write_many

    def counting(traces, **kw):  # type: ignore[no-untyped-def]
        commits.append(len(traces))
        return real(traces, **kw)

    store.write_many = counting  # type: ignore[method-assign]
    batch = [trace() for _ in range(25)]
    writer.write_many(batch)
    assert commits == [25]
    assert all(store.get(t.id) is not None for t in batch)
    assert writer.stats()["written"] == 25


def test_one_bad_trace_does_not_cost_the_batch(store: SqlTraceStore) -> None:
    writer = SafeTraceWriter(store)
    existing = trace()
    store.write(existing)
    batch = [trace(), trace(id=existing.id), trace()]  # the duplicate id fails the batch
    writer.write_many(batch)
    assert store.get(batch[0].id) is not None
    assert store.get(batch[2].id) is not None
    stats = writer.stats()
    assert stats["written"] == 2
    assert stats["rejected"] == 1


def test_a_batch_during_an_outage_is_spooled_and_replayed(db_url: str, spool_dir: Path) -> None:
    store = _open(db_url, spool_dir)
    writer = SafeTraceWriter(store)
    try:
        batch = [trace() for _ in range(4)]
        with outage(db_url):
            writer.write_many(batch)  # must not raise
        assert writer.stats()["spooled"] == 4
        assert store.replay_spool().stored == 4
        assert all(store.get(t.id) is not None for t in batch)
    finally:
        store.close()
