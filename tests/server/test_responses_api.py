"""The Responses API wire (``POST /v1/responses``), with the official ``openai`` SDK's
``responses`` client as the client: plain and streamed answers, function calls and
their outputs, instructions, structured output, models behind either wire, usage, the
routing headers, traces, and the refusals of what needs server-side state."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from fakes.tools import WEATHER_PARAMETERS
from server.harness import LiveGateway
from switchtower.store.sql import SqlTraceStore

TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": WEATHER_PARAMETERS,
}


def client(gw: LiveGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)


def test_a_plain_answer_is_routed_traced_and_priced(
    gateway: LiveGateway, fake_openai: FakeOpenAI, store: SqlTraceStore
) -> None:
    raw = client(gateway).responses.with_raw_response.create(
        model="auto", instructions="Be brief.", input="summarize one two three"
    )
    response = raw.parse()
    assert response.output_text == "echo: summarize one two three"
    assert response.status == "completed"
    assert response.model == "fake-local"
    assert response.instructions == "Be brief."
    assert response.usage is not None
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens == 5
    assert response.usage.total_tokens == response.usage.input_tokens + 5
    trace_id = raw.headers["x-switchtower-trace-id"]
    assert response.id == f"resp_{trace_id}"
    assert raw.headers["x-switchtower-tier"] == "local"
    sent = fake_openai.requests[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "summarize one two three"},
    ]
    gateway.app.gateway.writer.flush()
    trace = store.get(trace_id)
    assert trace is not None
    assert trace.status == "ok"
    assert trace.usage.output_tokens == 5


def test_function_calls_and_their_outputs_round_trip(
    gateway: LiveGateway, fake_openai: FakeOpenAI
) -> None:
    c = client(gateway)
    first = c.responses.create(
        model="auto",
        input="what is the weather in Paris",
        tools=[TOOL],  # type: ignore[list-item]
        max_output_tokens=64,
        temperature=0.2,
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "x"})
    sent = fake_openai.requests[-1]
    assert sent["tools"] == [
        {"type": "function", "function": {k: v for k, v in TOOL.items() if k != "type"}}
    ]
    assert (sent["max_tokens"], sent["temperature"]) == (64, 0.2)
    # the next turn gives the call and its output back, as the Agents SDK does
    given = {"type": "function_call", "call_id": call.call_id, "name": call.name}
    second = c.responses.create(
        model="auto",
        input=[
            {"role": "user", "content": "what is the weather in Paris"},
            {**given, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"},
        ],
        tools=[TOOL],  # type: ignore[list-item]
        tool_choice="none",
    )
    assert second.output_text.startswith("echo:")
    messages = fake_openai.requests[-1]["messages"]
    assert messages[1]["role"] == "assistant"
    assert messages[1]["tool_calls"][0]["id"] == call.call_id
    assert messages[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert messages[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny, 21C"}
    assert fake_openai.requests[-1]["tool_choice"] == "none"


def test_a_streamed_answer_passes_the_sdks_checks(
    gateway: LiveGateway, store: SqlTraceStore
) -> None:
    c = client(gateway)
    with c.responses.stream(model="auto", input="summarize one two three") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert final.output_text == "echo: summarize one two three"
    assert final.usage is not None
    assert final.usage.output_tokens > 0
    # the raw events too: numbered in order
    with httpx.stream(
        "POST",
        gateway.url + "/v1/responses",
        json={"model": "auto", "input": "summarize a b", "stream": True},
    ) as r:
        assert r.headers["x-switchtower-model"] == "fake-local"
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    trace_id = r.headers["x-switchtower-trace-id"]
    gateway.app.gateway.writer.flush()
    trace = store.get(trace_id)
    assert trace is not None
    assert trace.status == "ok"


async def test_a_streamed_function_call(gateway: LiveGateway) -> None:
    c = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    wanted = "response.function_call_arguments.delta"
    async with (
        c,
        c.responses.stream(
            model="auto:code-edit",
            input="weather?",
            tools=[TOOL],  # type: ignore[list-item]
        ) as stream,
    ):
        deltas = [e.delta async for e in stream if e.type == wanted]
        final = await stream.get_final_response()
    call = final.output[-1]
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "x"} == json.loads("".join(deltas))


def test_an_answer_cut_short_is_incomplete(gateway: LiveGateway) -> None:
    c = client(gateway)
    response = c.responses.create(model="auto", input="summarize a b c d e f", max_output_tokens=2)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    events = list(
        c.responses.create(
            model="auto", input="summarize a b c d e f", max_output_tokens=2, stream=True
        )
    )
    assert events[-1].type == "response.incomplete"


def test_a_claude_model_answers_the_responses_wire(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    c = client(gateway)
    response = c.responses.create(
        model="fake-claude",
        instructions="Answer in French.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "hello there"}]}],
        tools=[TOOL],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "get_weather"},
    )
    sent = fake_anthropic.requests[-1]
    assert sent["system"] == "Answer in French." or sent["system"][0]["text"] == "Answer in French."
    assert sent["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert any(item.type == "function_call" for item in response.output)


def test_structured_output_and_images_are_carried(
    gateway: LiveGateway, fake_openai: FakeOpenAI
) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    image = "data:image/png;base64,iVBORw0KGgo="
    client(gateway).responses.create(
        model="fake-frontier-0",
        input=[{"role": "user", "content": [
            {"type": "input_text", "text": "describe"},
            {"type": "input_image", "image_url": image, "detail": "low"}]}],
        text={"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}},
        reasoning={"effort": "low"},
    )  # fmt: skip
    sent = fake_openai.requests[-1]
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": schema, "strict": True},
    }
    assert sent["reasoning_effort"] == "low"
    assert sent["messages"][0]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": image, "detail": "low"},
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi", "previous_response_id": "resp_1"}, "previous_response_id"),
        ({"input": "hi", "conversation": "conv_1"}, "conversation"),
        ({"input": "hi", "background": True}, "background"),
        ({"input": "hi", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
        ({"input": [{"type": "computer_call", "id": "c"}]}, "input[0].type"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
         "input[0].content[0].image_url"),
        ({"input": 3}, "input"),
        ({"input": [{"type": "reasoning", "id": "r", "summary": []}]}, "input"),
        ({"input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "hi", "temperature": 9}, "temperature"),
        ({"input": "hi", "frobnicate": 1}, "frobnicate"),
        ({"input": "hi", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"input": "hi", "tool_choice": {"type": "mcp"}}, "tool_choice"),
        ({"input": [{"role": ["user"], "content": "x"}]}, "input[0].role"),
        ({"input": [{"role": {"x": 1}, "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": ["message"], "role": "user", "content": "x"}]}, "input[0].type"),
        ({"input": [{"role": "user", "content": [{"type": ["input_text"], "text": "x"}]}]},
         "input[0].content[0].type"),
        ({"input": [{"role": "user", "content": [{"type": {"a": 1}}]}]},
         "input[0].content[0].type"),
        ({"input": "hi", "top_logprobs": 99}, "top_logprobs"),
        ({"input": "hi", "metadata": {"async": True}}, "metadata.async"),
    ],
)  # fmt: skip
def test_what_the_gateway_cannot_do_is_a_400_naming_the_field(
    gateway: LiveGateway, body: dict[str, Any], param: str
) -> None:
    r = httpx.post(gateway.url + "/v1/responses", json={"model": "auto", **body})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == param
    assert "Traceback" not in r.text


def test_a_stream_that_breaks_off_ends_failed_and_is_traced(
    gateway: LiveGateway, fake_openai: FakeOpenAI, store: SqlTraceStore
) -> None:
    fake_openai.drop(after=2)
    with httpx.stream(
        "POST",
        gateway.url + "/v1/responses",
        json={"model": "auto", "input": "summarize one two three four five", "stream": True},
    ) as r:
        assert r.status_code == 200
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    trace_id = r.headers["x-switchtower-trace-id"]
    last = events[-1]
    assert last["type"] == "response.failed"
    assert last["response"]["status"] == "failed"
    assert last["response"]["error"]["code"]
    # what was written before the break is in the failed response, closed
    written = [e for e in events if e["type"] == "response.output_text.delta"]
    assert written
    assert last["response"]["output"][0]["content"][0]["text"] == "".join(
        e["delta"] for e in written
    )
    gateway.app.gateway.writer.flush()
    trace = store.get(trace_id)
    assert trace is not None
    assert trace.status != "ok"


def test_an_upstream_failure_before_the_answer_is_a_502_naming_the_models(
    gateway: LiveGateway, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(500, times=5)
    with pytest.raises(openai.InternalServerError) as err:
        client(gateway).responses.create(model="auto", input="summarize this")
    assert err.value.status_code == 502
    assert "fake-local" in str(err.value)


STRICT_EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def test_answers_and_events_pass_the_sdks_strict_types(
    gateway: LiveGateway, fake_openai: FakeOpenAI
) -> None:
    """Every field the SDK's types require, with the values they allow: answers, every
    streamed event, cut-off answers and metadata hints that are not strings."""
    body = {
        "model": "auto",
        "input": "summarize one two three four",
        "metadata": {"deadline": "interactive", "max_cost_usd": 1.0},
        "parallel_tool_calls": None,
        "tool_choice": None,
    }
    for extra in ({}, {"max_output_tokens": 2}, {"tools": [TOOL]}):
        r = httpx.post(gateway.url + "/v1/responses", json={**body, **extra})
        answer = Response.model_validate(r.json(), strict=True)
        if extra.get("max_output_tokens"):
            assert answer.status == "incomplete"
            assert {item.status for item in answer.output} == {"incomplete"}  # type: ignore[union-attr]
        with httpx.stream(
            "POST", gateway.url + "/v1/responses", json={**body, **extra, "stream": True}
        ) as s:
            lines = [line[6:] for line in s.iter_lines() if line.startswith("data: ")]
        events = [STRICT_EVENT.validate_json(line, strict=True) for line in lines]
        created = {e.response.created_at for e in events if hasattr(e, "response")}
        assert len(created) == 1  # one creation time, however long the stream
    assert answer.usage is not None
    assert answer.usage.input_tokens_details.cache_write_tokens == 0


def test_a_claude_stream_that_breaks_off_ends_failed(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.drop(after=4)
    with httpx.stream(
        "POST",
        gateway.url + "/v1/responses",
        json={"model": "fake-claude", "input": "a b c d e f g h", "stream": True},
    ) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    last = events[-1]
    assert last["type"] == "response.failed"
    assert last["response"]["error"]["code"] == "server_error"
    assert last["response"]["error"]["type"] == "upstream_unavailable"


def test_logprobs_and_accepted_no_ops(gateway: LiveGateway, fake_openai: FakeOpenAI) -> None:
    r = httpx.post(
        gateway.url + "/v1/responses",
        json={
            "model": "auto",
            "input": "summarize a b",
            "top_logprobs": 2,
            "max_tool_calls": 3,
            "prompt_cache_options": {"mode": "implicit"},
        },
    )
    assert r.status_code == 200, r.text
    sent = fake_openai.requests[-1]
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 2)
    assert sent["prompt_cache_options"] == {"mode": "implicit"}
    assert "max_tool_calls" not in sent


def test_an_output_type_beside_tools_on_claude(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    """What the Agents SDK sends for an agent with tools and an output type."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    response = client(gateway).responses.create(
        model="fake-claude",
        input="weather in Paris?",
        tools=[TOOL],  # type: ignore[list-item]
        text={"format": {"type": "json_schema", "name": "out", "schema": schema}},
    )
    sent = fake_anthropic.requests[-1]
    assert [t["name"] for t in sent["tools"]] == ["get_weather", "switchtower_json_answer"]
    assert sent["tool_choice"] == {"type": "any"}
    assert [item.type for item in response.output][-1] == "function_call"
