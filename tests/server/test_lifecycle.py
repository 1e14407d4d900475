"""Start-up work that keeps the first request and the p99 fast: providers are prepared
(SDK import, HTTP client) and, for ``serve``, start-up objects are frozen out of the GC."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from switchtower.providers import OpenAIProvider
from switchtower.server import create_app

from .harness import build_pipeline, gateway_config


class _Probe:
    name = "probe"

    def __init__(self, fail: bool = False) -> None:
        self.prepared = 0
        self.fail = fail

    def prepare(self) -> None:
        self.prepared += 1
        if self.fail:
            raise RuntimeError("no runtime here")

    async def aclose(self) -> None:
        return None


async def _lifespan(app: Any) -> tuple[asyncio.Queue[dict[str, Any]], list[str], Any]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    task = asyncio.create_task(app({"type": "lifespan", "state": {}}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    while "lifespan.startup.complete" not in sent:
        assert not task.done(), sent
        await asyncio.sleep(0.01)
    return inbox, sent, task


async def test_startup_prepares_providers_and_freezes_gc_until_shutdown(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    config = gateway_config(fake_openai, fake_anthropic, db=tmp_path / "traces.db")
    pipeline = build_pipeline(config, None)
    good, bad = _Probe(), _Probe(fail=True)
    pipeline.providers.update(probe=good, broken=bad)  # type: ignore[dict-item]
    app = create_app(pipeline, freeze_gc=True, owns_pipeline=True)
    frozen_before = gc.get_freeze_count()
    inbox, sent, task = await _lifespan(app)
    try:
        assert good.prepared == 1
        assert bad.prepared == 1  # a failing prepare only logs: the gateway still starts
        openai_provider = pipeline.providers["openai"]
        assert isinstance(openai_provider, OpenAIProvider)
        assert openai_provider._http is not None
        assert gc.get_freeze_count() > frozen_before
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await task
    assert "lifespan.shutdown.complete" in sent
    assert gc.get_freeze_count() == 0


async def test_no_freeze_unless_asked(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    config = gateway_config(fake_openai, fake_anthropic, db=tmp_path / "traces.db")
    app = create_app(build_pipeline(config, None), owns_pipeline=True)
    before = gc.get_freeze_count()
    inbox, _, task = await _lifespan(app)
    assert gc.get_freeze_count() == before
    await inbox.put({"type": "lifespan.shutdown"})
    await task
