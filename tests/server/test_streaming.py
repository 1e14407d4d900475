"""Many concurrent streaming clients; a client that disconnects mid-stream leaves a
complete ``cancelled`` trace and no upstream request or connection left open."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest

from fakes.openai_upstream import FakeOpenAI
from fakes.upstream import Action
from server.harness import LiveGateway
from switchtower.store.sql import SqlTraceStore


def _wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return bool(predicate())  # type: ignore[operator]


async def test_fifty_concurrent_streams(gateway: LiveGateway, store: SqlTraceStore) -> None:
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key="unused", max_retries=0
    ) as c:

        async def one(i: int) -> tuple[str, str]:
            stream = await c.chat.completions.with_raw_response.create(
                model="auto",
                messages=[{"role": "user", "content": f"summarize item {i} now"}],
                stream=True,
            )
            text = ""
            async for chunk in stream.parse():
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
            return stream.headers["x-switchtower-trace-id"], text

        results = await asyncio.gather(*(one(i) for i in range(50)))
    assert [text for _, text in results] == [f"echo: summarize item {i} now" for i in range(50)]
    assert len({tid for tid, _ in results}) == 50
    await asyncio.to_thread(gateway.app.gateway.writer.flush)
    traces = [store.get(tid) for tid, _ in results]
    assert all(t is not None and t.status == "ok" for t in traces)


def test_disconnect_mid_stream_cancels_upstream_and_traces(
    gateway: LiveGateway, fake_openai: FakeOpenAI, store: SqlTraceStore
) -> None:
    fake_openai.slow_stream(0.2)  # one chunk every 200 ms: the client leaves after one
    words = " ".join(f"w{i}" for i in range(100))
    with (
        httpx.Client(base_url=gateway.url) as client,
        client.stream(
            "POST",
            "/v1/chat/completions",
            json={
                "model": "auto",
                "stream": True,
                "messages": [{"role": "user", "content": f"summarize {words}"}],
            },
        ) as response,
    ):
        assert response.status_code == 200
        trace_id = response.headers["x-switchtower-trace-id"]
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        assert "chat.completion.chunk" in first
    # the client is gone: the gateway must close the upstream stream and trace it
    assert _wait_for(lambda: fake_openai.active_requests == 0)
    writer = gateway.app.gateway.writer

    def traced() -> bool:
        writer.flush()
        return store.get(trace_id) is not None

    assert _wait_for(traced)
    trace = store.get(trace_id)
    assert trace is not None
    assert trace.status == "cancelled"
    assert trace.attempts[-1].error_kind == "cancelled"
    assert trace.model == "fake-local"
    # the upstream connection was closed, not parked in the pool mid-response
    assert _wait_for(lambda: fake_openai.open_connections == 0)


def test_a_stream_that_ends_before_its_first_chunk_is_a_failure_not_an_empty_answer(
    gateway: LiveGateway, fake_openai: FakeOpenAI, store: SqlTraceStore
) -> None:
    """An upstream that answers 200 and then nothing (llama-cpp-python's server when the
    request fails inside the stream) is failed over like an error status, never passed
    on as a successful empty answer."""
    fake_openai.script(Action(empty=True))
    c = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.InternalServerError) as failed:  # the plan has no fallback
        c.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "summarize the report"}],
            stream=True,
        )
    assert failed.value.status_code == 502
    assert failed.value.body["models_tried"] == ["fake-local"]  # type: ignore[index]
    assert "the stream ended before its first chunk" in failed.value.body["message"]  # type: ignore[index]
    gateway.app.gateway.writer.flush()
    (trace,) = store.recent(1)
    assert (trace.status, trace.error_kind) == ("error", "all_models_failed")

    # with a fallback the next model answers, and the trace keeps the failed attempt
    fake_openai.script(Action(empty=True))
    stream = c.chat.completions.with_raw_response.create(
        model="auto:code-edit",
        messages=[{"role": "user", "content": "refactor this"}],
        stream=True,
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in stream.parse() if ch.choices)
    assert text == "echo: refactor this"
    gateway.app.gateway.writer.flush()
    routed = store.get(stream.headers["x-switchtower-trace-id"])
    assert routed is not None
    first, second = routed.attempts
    assert (first.ok, first.error_kind, second.ok) == (False, "upstream_server", True)
