"""The response cache: which requests it answers, both backends (Redis: the machine's
real server), and the pipeline and gateway answering a repeat for free."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis

from fakes.openai_upstream import FakeOpenAI
from server.harness import LiveGateway, build_pipeline, gateway_config
from switchtower.cache import MemoryCache, RedisCache, cache_key
from switchtower.pipeline import Pipeline
from switchtower.store import SqlTraceStore, open_store
from switchtower.types import Request

REDIS_URL = "redis://127.0.0.1:6379/0"


def req(text: str = "summarize the notes", **kw: Any) -> Request:
    params = kw.pop("params", {"temperature": 0})
    return Request.from_text(text, params=params, **kw)


def test_only_deterministic_single_answers_are_cached_by_default() -> None:
    assert cache_key(req()) is not None
    assert cache_key(req(params={})) is None  # temperature unset: sampled
    assert cache_key(req(params={"temperature": 0.7})) is None
    assert cache_key(req(params={"temperature": 0, "stream": True})) is None
    assert cache_key(req(params={"temperature": 0, "n": 2})) is None
    assert cache_key(req(params={"temperature": 0.7}, cache=True)) is not None
    assert cache_key(req(cache=False)) is None
    assert cache_key(req(params={}), when="always") is not None
    assert cache_key(req(), when="never") is None


def test_the_key_holds_what_shapes_the_answer() -> None:
    base = cache_key(req())
    assert cache_key(req(id="other-id", deadline="batch")) == base
    assert cache_key(req(params={"temperature": 0, "user": "u1", "stream": False})) == base
    assert cache_key(req("summarize the other notes")) != base
    assert cache_key(req(params={"temperature": 0, "max_tokens": 5})) != base
    assert cache_key(req(max_tier="local")) != base
    assert cache_key(req(model="fake-local")) != base
    mine, theirs = (cache_key(req(), api_key_id=k) for k in ("k1", "k2"))
    assert mine != theirs
    assert cache_key(req(), api_key_id="k1", scope="global") == base


def test_memory_cache_expires_and_evicts_the_least_recent() -> None:
    now = [0.0]
    cache = MemoryCache(max_entries=2, clock=lambda: now[0])

    async def go() -> None:
        await cache.put("a", {"v": 1}, ttl_s=10)
        await cache.put("b", {"v": 2}, ttl_s=10)
        assert await cache.get("a") == {"v": 1}  # a is now the most recent
        await cache.put("c", {"v": 3}, ttl_s=10)
        assert await cache.get("b") is None
        assert await cache.get("a") == {"v": 1}
        now[0] = 11.0
        assert await cache.get("a") is None
        assert len(cache) == 1

    asyncio.run(go())


@pytest.mark.redis
def test_redis_cache_shares_answers_for_their_ttl() -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    key = f"test-{time.time_ns()}"

    async def go() -> None:
        one, two = RedisCache(REDIS_URL), RedisCache(REDIS_URL)
        try:
            await one.put(key, {"text": "hi", "n": 1}, ttl_s=0.3)
            assert await two.get(key) == {"text": "hi", "n": 1}
            await asyncio.sleep(0.5)
            assert await two.get(key) is None
        finally:
            await one.aclose()
            await two.aclose()

    asyncio.run(go())


@pytest.fixture
def traces(tmp_path: Path) -> Iterator[SqlTraceStore]:
    store = open_store(f"sqlite:///{tmp_path / 'st.db'}", spool_dir=tmp_path)
    yield store
    store.close()


def pipeline(fake: FakeOpenAI, traces: SqlTraceStore, **cache: Any) -> Pipeline:
    config = gateway_config(fake)
    config = config.model_copy(update={"cache": config.cache.model_copy(update=cache)})
    pipe = build_pipeline(config, traces)
    pipe.cache = MemoryCache()
    return pipe


async def test_a_repeat_is_answered_from_the_cache_for_free(
    fake_openai: FakeOpenAI, traces: SqlTraceStore
) -> None:
    pipe = pipeline(fake_openai, traces)
    first = await pipe.run(req())
    second = await pipe.run(req())
    assert len(fake_openai.requests) == 1
    assert first.completion is not None
    assert second.completion is not None
    assert second.completion.text == first.completion.text
    assert second.completion.cached is not None
    assert second.completion.cost_usd == 0.0
    trace = traces.get(second.trace_id)
    assert trace is not None
    assert trace.decision["cache"]["hit"] is True
    assert (trace.cost_usd, trace.attempts) == (0.0, ())
    # another key, a sampled request: each goes upstream
    await pipe.run(req(), api_key_id="someone-else")
    await pipe.run(req(params={"temperature": 1.0}))
    await pipe.run(req(params={"temperature": 1.0}))
    assert len(fake_openai.requests) == 4
    await pipe.aclose()


class BrokenCache:
    name = "broken"

    async def get(self, key: str) -> dict[str, Any] | None:
        raise ConnectionError("cache down")

    async def put(self, key: str, value: Mapping[str, Any], ttl_s: float) -> None:
        raise ConnectionError("cache down")

    async def aclose(self) -> None:
        return None


async def test_a_broken_cache_never_fails_a_request(
    fake_openai: FakeOpenAI, traces: SqlTraceStore
) -> None:
    pipe = pipeline(fake_openai, traces)
    pipe.cache = BrokenCache()
    result = await pipe.run(req())
    assert result.completion is not None
    assert result.completion.cached is None
    assert pipe.cache_errors == 2  # the read and the write
    await pipe.aclose()


def test_the_gateway_marks_a_cached_answer(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    traces = open_store(f"sqlite:///{tmp_path / 'st.db'}", spool_dir=tmp_path)
    pipe = pipeline(fake_openai, traces)
    with LiveGateway(pipe) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
        messages = [{"role": "user", "content": "summarize the standup"}]
        first = client.chat.completions.with_raw_response.create(
            model="auto",
            messages=messages,
            temperature=0,  # type: ignore[arg-type]
        )
        second = client.chat.completions.with_raw_response.create(
            model="auto",
            messages=messages,
            temperature=0,  # type: ignore[arg-type]
        )
        forced = client.chat.completions.with_raw_response.create(
            model="auto",
            messages=[{"role": "user", "content": "summarize the retro"}],
            extra_headers={"x-switchtower-cache": "true"},
        )
        again = client.chat.completions.with_raw_response.create(
            model="auto",
            messages=[{"role": "user", "content": "summarize the retro"}],
            extra_headers={"x-switchtower-cache": "true"},
        )
        text = httpx.get(gw.url + "/metrics").text
    traces.close()
    assert "x-switchtower-cache" not in first.headers
    assert second.headers["x-switchtower-cache"] == "hit"
    assert float(second.headers["x-switchtower-cost-usd"]) == 0.0
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert "x-switchtower-cache" not in forced.headers
    assert again.headers["x-switchtower-cache"] == "hit"
    assert len(fake_openai.requests) == 2
    assert 'switchtower_cache_hits_total{operation="summarize"} 2.0' in text
