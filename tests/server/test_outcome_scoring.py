"""The live gateway writes each answer's outcome from the scorers on its trace (the
``contract`` scorer here), the router's history reads it, and feedback replaces it."""

from __future__ import annotations

import time

import anthropic
import httpx
import openai

from fakes.openai_upstream import FakeOpenAI
from fakes.tools import WEATHER_PARAMETERS, WEATHER_TOOL
from fakes.upstream import Action
from server.harness import LiveGateway
from switchtower.store.sql import SqlTraceStore
from switchtower.types import Trace

TOOLS = [WEATHER_TOOL]


def client(gw: LiveGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)


def _stored(gw: LiveGateway, store: SqlTraceStore, trace_id: str) -> Trace:
    gw.app.gateway.writer.flush()
    trace = store.get(trace_id)
    assert trace is not None
    return trace


def test_the_gateway_scores_a_broken_json_answer_and_feedback_replaces_it(
    gateway: LiveGateway, fake_openai: FakeOpenAI, store: SqlTraceStore
) -> None:
    fake_openai.script(Action(text="Sure! Here is the JSON you asked for"))
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "summarize the notes as JSON"}],
        response_format={"type": "json_object"},
    )
    assert fake_openai.requests[-1]["response_format"] == {"type": "json_object"}
    trace_id = raw.headers["x-switchtower-trace-id"]
    trace = _stored(gateway, store, trace_id)
    assert trace.status == "ok"
    assert trace.outcome is not None
    assert trace.outcome.success is False
    assert trace.outcome.source == "contract"
    assert trace.outcome.comment is not None
    assert "not JSON" in trace.outcome.comment
    # the router's history reads it like feedback
    store.refresh_history()
    tiers, models = store.success_counts(trace.operation)
    assert models[trace.model] == (0.0, 1.0)
    assert tiers[trace.tier] == (0.0, 1.0)
    metrics = httpx.get(gateway.url + "/metrics").text
    labels = f'model="{trace.model}",result="failure",source="contract"'
    assert f"switchtower_outcomes_total{{{labels}}} 1.0" in metrics
    # a person's judgement replaces the check's
    r = httpx.post(gateway.url + "/v1/feedback", json={"trace_id": trace_id, "success": True})
    assert r.status_code == 200
    again = store.get(trace_id)
    assert again is not None
    assert again.outcome is not None
    assert again.outcome.success is True
    assert again.outcome.source == "feedback"


def test_the_gateway_scores_kept_contracts_and_leaves_plain_requests_unjudged(
    gateway: LiveGateway, fake_openai: FakeOpenAI, store: SqlTraceStore
) -> None:
    c = client(gateway)
    tools = c.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "summarize the weather in Oslo"}],
        tools=TOOLS,  # type: ignore[arg-type]
    )
    assert tools.parse().choices[0].message.tool_calls
    fake_openai.script(Action(text='{"summary": "short"}'))
    js = c.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "summarize as JSON"}],
        response_format={"type": "json_object"},
    )
    plain = c.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "summarize the notes"}]
    )
    for raw, comment in ((tools, "1 tool call"), (js, "json_object answer")):
        trace = _stored(gateway, store, raw.headers["x-switchtower-trace-id"])
        assert trace.outcome is not None
        assert trace.outcome.success is True
        assert trace.outcome.source == "contract"
        assert comment in (trace.outcome.comment or "")
    assert _stored(gateway, store, plain.headers["x-switchtower-trace-id"]).outcome is None


def test_a_streamed_json_answer_is_scored(
    gateway: LiveGateway, fake_openai: FakeOpenAI, store: SqlTraceStore
) -> None:
    fake_openai.script(Action(text="not json at all"))
    with client(gateway).chat.completions.with_streaming_response.create(
        model="auto",
        messages=[{"role": "user", "content": "summarize as JSON"}],
        response_format={"type": "json_object"},
        stream=True,
    ) as resp:
        trace_id = resp.headers["x-switchtower-trace-id"]
        for _ in resp.iter_lines():
            pass
    deadline = time.monotonic() + 5
    trace = None
    while time.monotonic() < deadline:  # the stream's trace is written as it ends
        gateway.app.gateway.writer.flush()
        trace = store.get(trace_id)
        if trace is not None:
            break
        time.sleep(0.05)
    assert trace is not None
    assert trace.outcome is not None
    assert trace.outcome.success is False
    assert trace.outcome.source == "contract"


def test_tool_use_through_the_anthropic_api_is_scored_too(
    gateway: LiveGateway, store: SqlTraceStore
) -> None:
    """``/v1/messages`` tools and tool_choice arrive as the OpenAI form the scorer reads."""
    tool = {
        "name": "get_weather",
        "input_schema": WEATHER_PARAMETERS,
    }
    msg = anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0)
    answer = msg.messages.create(
        model="auto",
        max_tokens=64,
        tools=[tool],  # type: ignore[list-item]
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "summarize the weather in Paris"}],
    )
    assert answer.stop_reason == "tool_use"
    trace = _stored(gateway, store, answer.id.removeprefix("msg_"))
    assert trace.outcome is not None
    assert (trace.outcome.success, trace.outcome.source) == (True, "contract")
    assert "1 tool call" in (trace.outcome.comment or "")
