"""The ``anthropic`` provider against the fake Messages upstream, through the SDK, and the
OpenAI <-> Anthropic translation both ways."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakes.anthropic_upstream import FakeAnthropic
from fakes.models import anthropic_spec, info
from switchtower.config.schema import ModelConfig
from switchtower.errors import (
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamServerError,
    UpstreamUnavailableError,
)
from switchtower.providers import AnthropicProvider
from switchtower.providers.anthropic_format import (
    JSON_TOOL,
    StreamTranslator,
    to_anthropic,
    to_openai,
)
from switchtower.providers.common import stream_event_error, usage_from_openai
from switchtower.types import Request, Usage

TOOL = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
        },
    },
}

CONVERSATION = (
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "open the readme"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "read_file", "arguments": '{"path": "README.md"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "# switchtower"},
    {"role": "user", "content": [{"type": "text", "text": "summarize it"}]},
)


@pytest.fixture
async def provider():
    p = AnthropicProvider()
    yield p
    await p.aclose()


def test_request_translation() -> None:
    kwargs = to_anthropic(
        "claude-x",
        CONVERSATION,
        {"tools": [TOOL], "tool_choice": "required", "stop": "END", "temperature": 0.1,
         "seed": 3, "response_format": {"type": "text"}},
    )  # fmt: skip
    assert kwargs["system"] == "You are terse."
    assert kwargs["max_tokens"] == 1024
    assert kwargs["stop_sequences"] == ["END"]
    assert kwargs["temperature"] == 0.1
    assert "seed" not in kwargs
    assert "response_format" not in kwargs
    assert kwargs["tools"] == [
        {
            "name": "read_file",
            "description": "Read a file",
            "input_schema": TOOL["function"]["parameters"],
        }
    ]
    assert kwargs["tool_choice"] == {"type": "any"}
    roles = [m["role"] for m in kwargs["messages"]]
    assert roles == ["user", "assistant", "user"]
    tool_use = kwargs["messages"][1]["content"][0]
    assert tool_use == {
        "type": "tool_use", "id": "call_1", "name": "read_file", "input": {"path": "README.md"}
    }  # fmt: skip
    # the tool result and the next user text merge into one user turn
    result, text = kwargs["messages"][2]["content"]
    assert result == {"type": "tool_result", "tool_use_id": "call_1", "content": "# switchtower"}
    assert text == {"type": "text", "text": "summarize it"}


def test_named_tool_choice_and_max_tokens() -> None:
    choice = {"type": "function", "function": {"name": "read_file"}}
    kwargs = to_anthropic(
        "m", ({"role": "user", "content": "x"},),
        {"tools": [TOOL], "tool_choice": choice, "max_tokens": 50},
    )  # fmt: skip
    assert kwargs["tool_choice"] == {"type": "tool", "name": "read_file"}
    assert kwargs["max_tokens"] == 50


def test_response_translation() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "model": "claude-x",
        "content": [
            {"type": "text", "text": "Reading."},
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2},
    }
    raw = to_openai(message)
    choice = raw["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Reading."
    call = choice["message"]["tool_calls"][0]
    assert call["id"] == "toolu_1"
    assert json.loads(call["function"]["arguments"]) == {"path": "a"}
    assert raw["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 5,
        "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 2},
        "cache_creation_input_tokens": 0,
    }
    assert usage_from_openai(raw["usage"]) == Usage(12, 5, cache_read_tokens=2)


def test_cache_marks_are_carried() -> None:
    """``cache_control`` on OpenAI-format parts, tool calls, tool results and tools
    lands on the Anthropic blocks made from them; a marked system part makes ``system``
    a list of blocks (a string cannot carry it)."""
    mark = {"type": "ephemeral"}
    messages = (
        {"role": "system", "content": [{"type": "text", "text": "rules", "cache_control": mark}]},
        {"role": "system", "content": "more rules"},
        {"role": "user", "content": [{"type": "text", "text": "read it", "cache_control": mark}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"},
             "cache_control": mark}]},
        {"role": "tool", "tool_call_id": "c1", "content": "# doc", "cache_control": mark},
        {"role": "tool", "tool_call_id": "c2",
         "content": [{"type": "text", "text": "# two", "cache_control": mark}]},
    )  # fmt: skip
    kwargs = to_anthropic("m", messages, {"tools": [{**TOOL, "cache_control": mark}]})
    assert kwargs["system"] == [
        {"type": "text", "text": "rules", "cache_control": mark},
        {"type": "text", "text": "more rules"},
    ]
    assert kwargs["messages"][0]["content"][0]["cache_control"] == mark
    assert kwargs["messages"][1]["content"][0]["cache_control"] == mark
    result, inner = kwargs["messages"][2]["content"]
    assert result == {"type": "tool_result", "tool_use_id": "c1", "content": "# doc",
                      "cache_control": mark}  # fmt: skip
    assert inner["content"] == [{"type": "text", "text": "# two", "cache_control": mark}]
    assert kwargs["tools"][0]["cache_control"] == mark
    # without marks, nothing changes shape
    plain = to_anthropic("m", ({"role": "system", "content": [{"type": "text", "text": "a"}]},
                               {"role": "user", "content": "b"}), {})  # fmt: skip
    assert plain["system"] == "a"
    assert "cache_control" not in json.dumps(plain)


@pytest.mark.parametrize(
    ("stop", "finish"),
    [("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop")],
)
def test_finish_reasons(stop: str, finish: str) -> None:
    raw = to_openai({"content": [{"type": "text", "text": "x"}], "stop_reason": stop})
    assert raw["choices"][0]["finish_reason"] == finish


async def test_complete_round_trip(
    provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    model = info(anthropic_spec(fake_anthropic))
    completion = await provider.complete(model, Request(messages=CONVERSATION))
    # the last user turn holds the tool result and the text; the fake echoes both
    assert completion.text == "echo: # switchtower summarize it"
    assert completion.finish_reason == "stop"
    assert completion.raw["object"] == "chat.completion"
    assert completion.usage.output_tokens == len(completion.text.split())
    assert completion.cost_usd == pytest.approx(
        model.cost(completion.usage.input_tokens, completion.usage.output_tokens)
    )
    sent = fake_anthropic.requests[-1]
    assert sent["system"] == "You are terse."
    assert sent["max_tokens"] == 1024
    headers = fake_anthropic.headers[-1]
    # SDK versions send the key as x-api-key or as a bearer token
    assert "sk-ant-fake" in (headers.get("x-api-key", "") + headers.get("authorization", ""))


async def test_sampling_params_reach_the_wire(
    provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    """Regression: temperature/top_p/top_k were SDK keywords that SDK 2.x no longer
    accepts, so every request carrying them failed with a TypeError (a 502 to clients)."""
    model = info(anthropic_spec(fake_anthropic))
    params = {"temperature": 0.2, "top_p": 0.9, "top_k": 5, "max_tokens": 20}
    completion = await provider.complete(model, Request(messages=CONVERSATION, params=params))
    assert completion.text
    sent = fake_anthropic.requests[-1]
    assert (sent["temperature"], sent["top_p"], sent["top_k"]) == (0.2, 0.9, 5)
    assert sent["max_tokens"] == 20


async def test_tool_use_round_trip(
    provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    request = Request.from_text("read it", params={"tools": [TOOL]})
    completion = await provider.complete(info(anthropic_spec(fake_anthropic)), request)
    assert completion.finish_reason == "tool_calls"
    call = completion.raw["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "read_file"
    assert json.loads(call["function"]["arguments"]) == {"path": "x"}


async def test_stream_round_trip(
    provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    request = Request.from_text("one two", params={"max_tokens": 64})
    chunks = [c async for c in provider.stream(info(anthropic_spec(fake_anthropic)), request)]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(ch["delta"].get("content") or "" for c in chunks for ch in c["choices"])
    assert text == "echo: one two"
    finishes = [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch["finish_reason"]]
    assert finishes == ["stop"]
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert chunks[-1]["usage"]["prompt_tokens"] == 2


async def test_stream_tool_use(provider: AnthropicProvider, fake_anthropic: FakeAnthropic) -> None:
    request = Request.from_text("read", params={"tools": [TOOL]})
    chunks = [c async for c in provider.stream(info(anthropic_spec(fake_anthropic)), request)]
    calls = [
        tc for c in chunks for ch in c["choices"] for tc in ch["delta"].get("tool_calls") or ()
    ]
    assert calls[0]["function"]["name"] == "read_file"
    assert json.loads("".join(tc["function"]["arguments"] for tc in calls)) == {"path": "x"}


def test_stream_translator_error_event() -> None:
    translator = StreamTranslator(model_id="m")
    with pytest.raises(UpstreamServerError, match="overloaded"):
        translator.feed({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, UpstreamRateLimitError),
        (529, UpstreamServerError),
        (500, UpstreamServerError),
        (400, UpstreamRejectedError),
        (401, UpstreamRejectedError),
    ],
)
async def test_http_errors_are_typed(
    provider: AnthropicProvider, fake_anthropic: FakeAnthropic, status: int, error: type[Exception]
) -> None:
    fake_anthropic.fail(status, retry_after="3")
    with pytest.raises(error) as caught:
        await provider.complete(info(anthropic_spec(fake_anthropic)), Request.from_text("hi"))
    assert caught.value.status == status  # type: ignore[attr-defined]
    if status == 429:
        assert caught.value.retry_after == 3.0  # type: ignore[attr-defined]


async def test_unreachable(provider: AnthropicProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    spec = ModelConfig(name="c", provider="anthropic", base_url="http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(
        UpstreamUnavailableError, match=r"c: cannot connect to http://127\.0\.0\.1:9"
    ):
        await provider.complete(info(spec), Request.from_text("hi"))


def test_unavailable_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    provider = AnthropicProvider()
    spec = ModelConfig(name="claude-sonnet-4-5", provider="anthropic")
    assert provider.unavailable_reason(spec) == "no ANTHROPIC_API_KEY in the environment"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    assert provider.unavailable_reason(spec) is None
    # a batch entry needs the same key; the job queue sends it (see tests/queue)
    assert provider.unavailable_reason(spec.model_copy(update={"batch": True})) is None


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}


async def test_a_json_answer_is_asked_as_a_forced_tool_and_comes_back_as_text(
    provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    """response_format has no Anthropic counterpart: dropping it answered JSON-mode
    clients with prose. Anthropic is made to call one tool whose input is the answer."""
    model = info(anthropic_spec(fake_anthropic))
    request = Request.from_text("Ada, 36", params={"response_format": JSON_SCHEMA})
    completion = await provider.complete(model, request)
    sent = fake_anthropic.requests[-1]
    assert sent["tools"] == [
        {"name": JSON_TOOL, "description": "Give the answer as JSON.", "input_schema": SCHEMA}
    ]
    assert sent["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    assert json.loads(completion.text) == {"name": "x", "age": "x"}  # the fake fills required
    assert completion.finish_reason == "stop"
    assert "tool_calls" not in completion.raw["choices"][0]["message"]

    chunks = [c async for c in provider.stream(model, request)]
    text = "".join(ch["delta"].get("content") or "" for c in chunks for ch in c["choices"])
    assert json.loads(text) == {"name": "x", "age": "x"}
    assert not any(ch["delta"].get("tool_calls") for c in chunks for ch in c["choices"])
    finishes = [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch["finish_reason"]]
    assert finishes == ["stop"]

    plain = to_anthropic(
        "m", [{"role": "user", "content": "x"}], {"response_format": {"type": "json_object"}}
    )
    assert plain["tools"][0]["input_schema"] == {"type": "object"}
    assert "tools" not in to_anthropic(
        "m", [{"role": "user", "content": "x"}], {"response_format": {"type": "text"}}
    )


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"n": 2}, "one choice"),
        ({"logprobs": True}, "no log probabilities"),
        ({"modalities": ["text", "audio"]}, "no audio"),
        ({"functions": [{"name": "f"}]}, "send tools"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"schema": {"type": "array"}},
                }
            },
            "schema type object",
        ),
    ],
)
def test_what_anthropic_cannot_answer_is_refused_as_a_400(params: dict[str, Any], why: str) -> None:
    with pytest.raises(UpstreamRejectedError, match=why) as err:
        to_anthropic("claude-x", [{"role": "user", "content": "hi"}], params)
    assert err.value.status == 400  # every model refusing it: the client's 400


def test_a_json_answer_beside_tools_makes_a_tool_call_required() -> None:
    """An agent with an output type and tools: the client's tools and the answer's, one
    of which must be called; the answer's input is the text, the client's calls stay."""
    user = [{"role": "user", "content": "x"}]
    sent = to_anthropic("m", user, {"response_format": JSON_SCHEMA, "tools": [TOOL]})
    assert [t["name"] for t in sent["tools"]] == [TOOL["function"]["name"], JSON_TOOL]
    assert sent["tool_choice"] == {"type": "any"}
    alone = to_anthropic(
        "m", user, {"response_format": JSON_SCHEMA, "tools": [TOOL], "tool_choice": "none"}
    )
    assert [t["name"] for t in alone["tools"]] == [JSON_TOOL]
    assert alone["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    named = {"type": "function", "function": {"name": TOOL["function"]["name"]}}
    forced = to_anthropic(
        "m", user, {"response_format": JSON_SCHEMA, "tools": [TOOL], "tool_choice": named}
    )
    assert JSON_TOOL not in [t["name"] for t in forced["tools"]]
    serial = to_anthropic(
        "m", user, {"response_format": JSON_SCHEMA, "tools": [TOOL], "parallel_tool_calls": False}
    )
    assert serial["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}

    def message(*blocks: dict[str, Any]) -> dict[str, Any]:
        return {"id": "msg_1", "model": "m", "content": list(blocks), "stop_reason": "tool_use"}

    call = {"type": "tool_use", "id": "t1", "name": TOOL["function"]["name"], "input": {"q": 1}}
    answer = {"type": "tool_use", "id": "t2", "name": JSON_TOOL, "input": {"name": "Ada"}}
    turn = to_openai(message(call))["choices"][0]
    assert turn["finish_reason"] == "tool_calls"
    assert turn["message"]["tool_calls"][0]["function"]["name"] == TOOL["function"]["name"]
    final = to_openai(message(answer))["choices"][0]
    assert (final["finish_reason"], json.loads(final["message"]["content"])) == (
        "stop",
        {"name": "Ada"},
    )
    assert "tool_calls" not in final["message"]
    both = to_openai(message(call, answer))["choices"][0]
    assert both["finish_reason"] == "tool_calls"
    assert [c["id"] for c in both["message"]["tool_calls"]] == ["t1"]


def test_bookkeeping_parameters_are_mapped_or_dropped() -> None:
    params = {"user": "u-42", "seed": 7, "store": True, "service_tier": "flex", "verbosity": "low"}
    sent = to_anthropic("m", [{"role": "user", "content": "hi"}], params)
    assert sent["metadata"] == {"user_id": "u-42"}
    assert not {"seed", "store", "service_tier", "verbosity"} & set(sent)
    auto = to_anthropic("m", [{"role": "user", "content": "hi"}], {"service_tier": "auto"})
    assert auto["service_tier"] == "auto"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
            UpstreamServerError,
        ),
        ({"type": "error", "error": {"type": "rate_limit_error"}}, UpstreamRateLimitError),
        ({"type": "error", "error": {"type": "invalid_request_error"}}, UpstreamRejectedError),
        (None, UpstreamServerError),
    ],
)
def test_an_error_event_in_a_stream_is_typed_by_its_own_type(
    body: object, error: type[Exception]
) -> None:
    """The Anthropic SDK raises a status error with status 200 for an error event inside
    a stream: typed by the event, never as a connection failure."""
    found = stream_event_error(body, model="m", message="busy")
    assert type(found) is error
    assert "upstream error (" in str(found)


def test_a_streamed_json_answer_beside_tools_is_the_text() -> None:
    t = StreamTranslator(model_id="m")  # tool_choice any: not the JSON-only mode
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {}}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": '{"name": "Ada"}'}},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}},
    ]  # fmt: skip
    chunks = [c for e in events for c in t.feed(e)]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert json.loads(text) == {"name": "Ada"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert not any("tool_calls" in c["choices"][0]["delta"] for c in chunks)


def test_a_second_streamed_json_answer_is_left_out_as_in_the_plain_answer() -> None:
    t = StreamTranslator(model_id="m", json_answer=True)
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "text_delta", "text": "Let me answer. "}},
    ]  # fmt: skip
    for i, name in ((1, "Ada"), (2, "Bob")):
        events.append({"type": "content_block_start", "index": i,
                       "content_block": {"type": "tool_use", "id": f"t{i}", "name": JSON_TOOL,
                                         "input": {}}})  # fmt: skip
        events.append({"type": "content_block_delta", "index": i,
                       "delta": {"type": "input_json_delta",
                                 "partial_json": json.dumps({"name": name})}})  # fmt: skip
    events.append({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}})
    chunks = [c for e in events for c in t.feed(e)]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert json.loads(text) == {"name": "Ada"}
    assert not any("tool_calls" in c["choices"][0]["delta"] for c in chunks)
