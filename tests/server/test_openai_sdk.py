"""The official ``openai`` SDK against the live gateway: sync, async, streaming, tools,
routing headers, hints and error bodies."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from fakes.tools import WEATHER_TOOL
from server.harness import LiveGateway
from switchtower.store.sql import SqlTraceStore

TOOLS = [WEATHER_TOOL]


def client(gw: LiveGateway, **kw: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0, **kw)  # type: ignore[arg-type]


def test_sync_completion_is_routed_and_traced(
    gateway: LiveGateway, fake_openai: FakeOpenAI, store: SqlTraceStore
) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "summarize the meeting notes"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: summarize the meeting notes"
    assert completion.model == "fake-local"
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0
    h = raw.headers
    assert h["x-switchtower-operation"] == "summarize"
    assert h["x-switchtower-tier"] == "local"
    assert h["x-switchtower-model"] == "fake-local"
    assert float(h["x-switchtower-cost-usd"]) == 0.0
    assert fake_openai.requests[-1]["model"] == "local-small"
    gateway.app.gateway.writer.flush()
    trace = store.get(h["x-switchtower-trace-id"])
    assert trace is not None
    assert trace.status == "ok"
    assert trace.model == "fake-local"
    assert completion._request_id == trace.id  # what the SDK calls the request id


def test_concrete_model_bypasses_routing_but_is_priced(
    gateway: LiveGateway, store: SqlTraceStore
) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="fake-frontier-1", messages=[{"role": "user", "content": "summarize a b c"}]
    )
    assert raw.headers["x-switchtower-model"] == "fake-frontier-1"
    assert raw.headers["x-switchtower-tier"] == "realtime"
    cost = float(raw.headers["x-switchtower-cost-usd"])
    assert cost > 0
    gateway.app.gateway.writer.flush()
    trace = store.get(raw.headers["x-switchtower-trace-id"])
    assert trace is not None
    assert trace.decision["explanation"]["tier"].startswith("model 'fake-frontier-1'")
    assert trace.cost_usd == pytest.approx(cost)


def test_auto_operation_and_header_hints(gateway: LiveGateway) -> None:
    c = client(gateway)
    raw = c.chat.completions.with_raw_response.create(
        model="auto:code-edit", messages=[{"role": "user", "content": "summarize this"}]
    )
    assert raw.headers["x-switchtower-operation"] == "code-edit"
    assert raw.headers["x-switchtower-tier"] == "realtime"
    raw = c.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "refactor the parser"}],
        extra_headers={"x-switchtower-max-tier": "local"},
    )
    assert raw.headers["x-switchtower-tier"] == "local"
    raw = c.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "hello"}],
        metadata={"tier": "realtime", "deadline": "soon"},
    )
    assert raw.headers["x-switchtower-tier"] == "realtime"


async def test_async_client_and_tools_pass_through(
    gateway: LiveGateway, fake_openai: FakeOpenAI
) -> None:
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key="unused", max_retries=0
    ) as c:
        completion = await c.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "what is the weather in Paris"}],
            tools=TOOLS,  # type: ignore[arg-type]
            tool_choice="auto",
            response_format={"type": "json_object"},
            temperature=0.2,
        )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "x"}  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == "tool_calls"
    sent = fake_openai.requests[-1]
    assert sent["tools"] == TOOLS
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["temperature"] == 0.2


def test_streaming_text_and_usage(gateway: LiveGateway, store: SqlTraceStore) -> None:
    c = client(gateway)
    with c.chat.completions.with_streaming_response.create(
        model="auto",
        messages=[{"role": "user", "content": "summarize one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        trace_id = response.headers["x-switchtower-trace-id"]
        assert response.headers["x-switchtower-model"] == "fake-local"
        chunks = list(response.parse())
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "echo: summarize one two three"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    assert all(ch.model == "fake-local" for ch in chunks)
    # without include_usage no usage chunk is sent, as OpenAI does
    plain = list(
        c.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert all(ch.usage is None for ch in plain)
    gateway.app.gateway.writer.flush()
    trace = store.get(trace_id)
    assert trace is not None
    assert trace.status == "ok"
    assert trace.usage.output_tokens > 0


async def test_async_streaming_tool_calls(gateway: LiveGateway) -> None:
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key="unused", max_retries=0
    ) as c:
        stream = await c.chat.completions.create(
            model="auto:code-edit",
            messages=[{"role": "user", "content": "weather?"}],
            tools=TOOLS,  # type: ignore[arg-type]
            stream=True,
        )
        args = ""
        name = None
        async for chunk in stream:
            for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                name = name or (tc.function.name if tc.function else None)
                args += (tc.function.arguments or "") if tc.function else ""
    assert name == "get_weather"
    assert json.loads(args) == {"city": "x"}


def test_invalid_requests_name_the_field(gateway: LiveGateway) -> None:
    c = client(gateway)
    with pytest.raises(openai.BadRequestError) as bad:
        c.chat.completions.create(model="auto", messages=[])
    assert bad.value.body["param"] == "messages"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as bad:
        c.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-switchtower-deadline": "tomorrow"},
        )
    assert bad.value.body["param"] == "x-switchtower-deadline"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as bad:
        c.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hi"}], temperature=7
        )
    assert bad.value.body["param"] == "temperature"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as bad:
        c.chat.completions.create(model="auto:nope", messages=[{"role": "user", "content": "x"}])
    assert bad.value.body["param"] == "model"  # type: ignore[index]
    assert bad.value.body["code"] == "unknown_operation"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as bad:
        c.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "x"}], metadata={"operation": "x"}
        )
    assert bad.value.body["param"] == "metadata.operation"  # type: ignore[index]
    assert bad.value.body["code"] == "unknown_operation"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError) as missing:
        c.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]
    r = httpx.post(gateway.url + "/v1/chat/completions", content=b"{not json")
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "body"
    deep = b"[" * 1100 + b"]" * 1100  # past orjson's limit, and the standard library's stack
    for path in ("/v1/chat/completions", "/v1/messages", "/v1/route", "/v1/feedback"):
        r = httpx.post(gateway.url + path, content=deep)
        assert r.status_code == 400, path
        assert "nested too deeply" in r.text
    r = httpx.get(gateway.url + "/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "not_found_error"


def test_upstream_failure_is_502_naming_models(
    gateway: LiveGateway,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    store: SqlTraceStore,
) -> None:
    fake_openai.fail(500, times=5)
    fake_anthropic.fail(500, times=5)
    with pytest.raises(openai.InternalServerError) as failed:
        client(gateway).chat.completions.create(
            model="auto:code-edit", messages=[{"role": "user", "content": "x"}]
        )
    err = failed.value
    assert err.status_code == 502
    assert err.body["code"] == "all_models_failed"  # type: ignore[index]
    assert err.body["models_tried"] == [  # type: ignore[index]
        "fake-frontier-0",
        "fake-frontier-1",
        "fake-claude",
    ]
    assert "Traceback" not in err.response.text
    message = err.body["message"]  # type: ignore[index]
    assert message.startswith(
        "all models failed (tried fake-frontier-0, fake-frontier-1, fake-claude): "
        "fake-frontier-0: upstream_server: "
    )
    assert "fake-frontier-0: fake-frontier-0" not in message
    assert "127.0.0.1" not in err.response.text  # upstream addresses stay in the traces
    gateway.app.gateway.writer.flush()
    (trace,) = store.recent(1)
    assert trace.status == "error"
    assert len(trace.attempts) == 3


def test_models_endpoint(gateway: LiveGateway) -> None:
    ids = [m.id for m in client(gateway).models.list()]
    assert ids[:3] == ["auto", "auto:code-edit", "auto:summarize"]
    assert {"fake-local", "fake-frontier-0", "fake-claude"} <= set(ids)
    one = client(gateway).models.retrieve("fake-claude")
    assert (one.id, one.owned_by) == ("fake-claude", "anthropic")
    # what each takes, so a user sees why images skip a model
    assert one.capabilities == ["documents", "tools", "vision"]  # type: ignore[attr-defined]
    local = client(gateway).models.retrieve("fake-local")
    assert local.capabilities == ["tools"]  # type: ignore[attr-defined]
    assert client(gateway).models.retrieve("auto:summarize").owned_by == "switchtower"
    with pytest.raises(openai.NotFoundError) as missing:
        client(gateway).models.retrieve("gpt-9")
    assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]
    a = anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0)
    assert a.models.retrieve("fake-local").id == "fake-local"


def test_no_eligible_model_is_400_when_the_client_pinned_it(gateway: LiveGateway) -> None:
    """Regression (found by schemathesis): pinning a tier with no models answered 503, as
    if the server were down; the client's own constraint is a 400 naming it."""
    with pytest.raises(openai.BadRequestError) as bad:
        client(gateway).chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-switchtower-tier": "async"},
        )
    assert bad.value.body["code"] == "no_eligible_model"  # type: ignore[index]
    assert bad.value.body["param"] == "metadata.tier"  # type: ignore[index]


def test_a_refused_request_is_traced_but_a_dry_run_is_not(
    gateway: LiveGateway, store: SqlTraceStore
) -> None:
    """A refusal is a routing decision too: traced with its operation and reasons (no
    model, no spend), so `traces` and `report` show it. `/v1/route` traces nothing."""
    before = len(store.recent(100))
    body = {"model": "auto", "messages": [{"role": "user", "content": "summarize"}]}
    pinned = {"x-switchtower-tier": "async"}
    dry = httpx.post(gateway.url + "/v1/route", json=body, headers=pinned)
    assert dry.status_code == 400
    refused = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=pinned)
    assert refused.status_code == 400
    gateway.app.gateway.writer.flush()
    traces = store.recent(100)
    assert len(traces) == before + 1
    trace = traces[0]
    assert (trace.status, trace.error_kind, trace.model) == ("error", "no_eligible_model", "")
    assert trace.operation == "summarize"
    why = trace.decision["explanation"]["tier"]
    assert why
    assert refused.json()["error"]["message"].startswith(why)  # the reason the client got
    assert trace.cost_usd == trace.counterfactual_cost_usd == 0.0
