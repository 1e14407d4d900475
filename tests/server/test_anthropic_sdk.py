"""The official ``anthropic`` SDK against the live gateway's ``/v1/messages``: plain,
streamed, tool use (both directions), routing headers and Anthropic-style errors."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from fakes.tools import WEATHER_PARAMETERS
from server.harness import LiveGateway
from switchtower.store.sql import SqlTraceStore

TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": WEATHER_PARAMETERS,
}


def client(gw: LiveGateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)


def test_message_routed_with_headers(gateway: LiveGateway, fake_openai: FakeOpenAI) -> None:
    raw = client(gateway).messages.with_raw_response.create(
        model="auto",
        max_tokens=64,
        system="be brief",
        messages=[{"role": "user", "content": "summarize the report"}],
    )
    message = raw.parse()
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: summarize the report"
    assert message.stop_reason == "end_turn"
    assert message.model == "fake-local"
    assert message.usage.input_tokens > 0
    assert raw.headers["x-switchtower-tier"] == "local"
    sent = fake_openai.requests[-1]
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}
    assert sent["max_tokens"] == 64


def test_stream_matches_the_sdk_event_model(gateway: LiveGateway, store: SqlTraceStore) -> None:
    with client(gateway).messages.stream(
        model="auto",
        max_tokens=64,
        messages=[{"role": "user", "content": "summarize alpha beta"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: summarize alpha beta"
    assert final.content[0].text == text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    assert final.usage.input_tokens > 0
    gateway.app.gateway.writer.flush()
    trace = store.get(final.id.removeprefix("msg_"))
    assert trace is not None
    assert trace.status == "ok"
    assert stream.response.headers["request-id"] == trace.id  # the SDK's request id


def test_tool_use_round_trip(gateway: LiveGateway, fake_openai: FakeOpenAI) -> None:
    c = client(gateway)
    first = c.messages.create(
        model="auto",
        max_tokens=64,
        tools=[TOOL],  # type: ignore[list-item]
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "weather in Paris?"}],
    )
    (block,) = [b for b in first.content if b.type == "tool_use"]
    assert block.name == "get_weather"
    assert block.input == {"city": "x"}
    assert first.stop_reason == "tool_use"
    sent = fake_openai.requests[-1]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["tools"][0]["function"]["parameters"] == TOOL["input_schema"]
    # the tool result goes back as an OpenAI tool message right after the tool call
    c.messages.create(
        model="auto",
        max_tokens=64,
        tools=[TOOL],  # type: ignore[list-item]
        tool_choice={"type": "none"},
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": [block.model_dump()]},  # type: ignore[list-item]
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": block.id, "content": "sunny"},
                    {"type": "text", "text": "and tomorrow?"},
                ],
            },
        ],
    )
    msgs = fake_openai.requests[-1]["messages"]
    assert msgs[1]["tool_calls"][0]["id"] == block.id
    assert msgs[2] == {"role": "tool", "tool_call_id": block.id, "content": "sunny"}
    assert msgs[3]["role"] == "user"


def test_streamed_tool_use(gateway: LiveGateway) -> None:
    with client(gateway).messages.stream(
        model="auto:code-edit",
        max_tokens=64,
        tools=[TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "weather?"}],
    ) as stream:
        final = stream.get_final_message()
    (block,) = [b for b in final.content if b.type == "tool_use"]
    assert block.input == {"city": "x"}
    assert final.stop_reason == "tool_use"


def test_errors_are_anthropic_shaped(gateway: LiveGateway) -> None:
    c = client(gateway)
    with pytest.raises(anthropic.BadRequestError) as bad:
        c.messages.create(
            model="auto",
            max_tokens=0,
            messages=[{"role": "user", "content": "x"}],
        )
    assert bad.value.body["type"] == "error"  # type: ignore[index]
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "max_tokens" in bad.value.body["error"]["message"]  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError):
        c.messages.create(
            model="claude-nope", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )


def test_models_in_anthropic_shape(gateway: LiveGateway) -> None:
    ids = [m.id for m in client(gateway).models.list()]
    assert "auto" in ids
    assert "fake-claude" in ids


def test_which_stop_sequence_ended_the_answer_comes_back(gateway: LiveGateway) -> None:
    """Through an Anthropic upstream the wire says which stop sequence ended the answer
    (it used to come back as end_turn, sequence null), plain and streamed."""
    c = client(gateway)
    ask = {
        "model": "fake-claude",
        "max_tokens": 50,
        "stop_sequences": ["END"],
        "messages": [{"role": "user", "content": "one two END three"}],
    }
    message = c.messages.create(**ask)  # type: ignore[call-overload]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    assert message.content[0].text == "echo: one two"
    with c.messages.stream(**ask) as stream:  # type: ignore[call-overload]
        final = stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "END")
    plain = c.messages.create(**{**ask, "stop_sequences": ["NOPE"]})  # type: ignore[call-overload]
    assert (plain.stop_reason, plain.stop_sequence) == ("end_turn", None)


def test_metadata_user_id_reaches_the_model(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    """Claude Code sends ``metadata.user_id`` with every request; the routing hints in
    the same object stay the gateway's."""
    c = client(gateway)
    metadata: Any = {"user_id": "user-7f3a", "deadline": "interactive"}
    ask: Any = {"max_tokens": 16, "metadata": metadata,
                "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    c.messages.create(model="fake-claude", **ask)
    assert fake_anthropic.requests[-1]["metadata"] == {"user_id": "user-7f3a"}
    c.messages.create(model="fake-local", **ask)
    assert fake_openai.requests[-1]["user"] == "user-7f3a"
    assert "metadata" not in fake_openai.requests[-1]
