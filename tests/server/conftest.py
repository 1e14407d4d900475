"""Fixtures: a trace store in tmp_path, the test pipeline, a live gateway on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from server.harness import LiveGateway, build_pipeline, gateway_config
from switchtower.store.sql import SqlTraceStore, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlTraceStore]:
    s = open_store(f"sqlite:///{tmp_path / 'traces.db'}", spool_dir=tmp_path)
    yield s
    s.engine.dispose()


@pytest.fixture
def gateway(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, store: SqlTraceStore, tmp_path: Path
) -> Iterator[LiveGateway]:
    """A live gateway without keys, traces in ``store``."""
    config = gateway_config(fake_openai, fake_anthropic, db=tmp_path / "traces.db")
    with LiveGateway(build_pipeline(config, store)) as gw:
        yield gw
