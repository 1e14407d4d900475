"""The ``openai`` provider against the fake OpenAI-compatible upstream, through the SDK."""

from __future__ import annotations

import json

import pytest

from fakes.models import info, openai_spec
from fakes.openai_upstream import FakeOpenAI
from fakes.upstream import Action
from switchtower.config.schema import ModelConfig
from switchtower.errors import (
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamServerError,
    UpstreamUnavailableError,
)
from switchtower.providers import OpenAIProvider
from switchtower.types import Request

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
async def provider():
    p = OpenAIProvider()
    yield p
    await p.aclose()


async def test_complete_round_trip(provider: OpenAIProvider, fake_openai: FakeOpenAI) -> None:
    model = info(openai_spec(fake_openai))
    request = Request.from_text("hello there", params={"temperature": 0.2, "seed": 7})
    completion = await provider.complete(model, request)
    assert completion.text == "echo: hello there"
    assert completion.model == model.name
    assert completion.finish_reason == "stop"
    assert completion.usage.input_tokens == 2
    assert completion.usage.output_tokens == 3
    assert completion.cost_usd == pytest.approx(model.cost(2, 3))
    assert completion.raw["object"] == "chat.completion"
    sent = fake_openai.requests[-1]
    assert sent["temperature"] == 0.2
    assert sent["seed"] == 7
    assert sent["model"] == "fake-model"
    assert sent["messages"] == [{"role": "user", "content": "hello there"}]


async def test_model_id_differs_from_name(
    provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    model = info(openai_spec(fake_openai, name="cheap", model="upstream-id"))
    completion = await provider.complete(model, Request.from_text("hi"))
    assert completion.model == "cheap"
    assert fake_openai.requests[-1]["model"] == "upstream-id"


async def test_tools_pass_through(provider: OpenAIProvider, fake_openai: FakeOpenAI) -> None:
    params = {"tools": [WEATHER_TOOL], "tool_choice": "auto", "response_format": {"type": "text"}}
    completion = await provider.complete(
        info(openai_spec(fake_openai)), Request.from_text("weather in Paris?", params=params)
    )
    sent = fake_openai.requests[-1]
    assert sent["tools"] == [WEATHER_TOOL]
    assert sent["response_format"] == {"type": "text"}
    assert completion.finish_reason == "tool_calls"
    call = completion.raw["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "x"}


async def test_stream_round_trip(provider: OpenAIProvider, fake_openai: FakeOpenAI) -> None:
    model = info(openai_spec(fake_openai))
    chunks = [c async for c in provider.stream(model, Request.from_text("one two three"))]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(
        ch["delta"].get("content") or "" for c in chunks for ch in c["choices"] if "delta" in ch
    )
    assert text == "echo: one two three"
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    assert chunks[-1]["choices"] == []
    assert fake_openai.requests[-1]["stream_options"] == {"include_usage": True}


async def test_an_error_event_inside_a_stream_is_the_upstreams_failure(
    provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    """Not "cannot connect to ...": the connection was fine, the server failed."""
    fake_openai.script(Action(error_after=2))
    model = info(openai_spec(fake_openai))
    chunks: list[object] = []

    async def read() -> None:
        async for chunk in provider.stream(model, Request.from_text("one two three")):
            chunks.append(chunk)

    with pytest.raises(UpstreamServerError, match=r"upstream error \(server_error\)"):
        await read()
    assert len(chunks) == 2


async def test_stream_without_upstream_usage_gets_estimate(fake_openai: FakeOpenAI) -> None:
    provider = OpenAIProvider(stream_usage=False)
    try:
        chunks = [
            c async for c in provider.stream(info(openai_spec(fake_openai)), Request.from_text("x"))
        ]
    finally:
        await provider.aclose()
    assert "stream_options" not in fake_openai.requests[-1]
    usage = chunks[-1]["usage"]
    assert usage["estimated"] is True
    assert usage["completion_tokens"] > 0


async def test_stream_tool_calls(provider: OpenAIProvider, fake_openai: FakeOpenAI) -> None:
    request = Request.from_text("weather?", params={"tools": [WEATHER_TOOL]})
    chunks = [c async for c in provider.stream(info(openai_spec(fake_openai)), request)]
    args = "".join(
        tc["function"].get("arguments", "")
        for c in chunks
        for ch in c["choices"]
        for tc in ch["delta"].get("tool_calls") or ()
    )
    assert json.loads(args) == {"city": "x"}


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, UpstreamRateLimitError),
        (500, UpstreamServerError),
        (503, UpstreamServerError),
        (400, UpstreamRejectedError),
        (401, UpstreamRejectedError),
        (404, UpstreamRejectedError),
    ],
)
async def test_http_errors_are_typed(
    provider: OpenAIProvider, fake_openai: FakeOpenAI, status: int, error: type[Exception]
) -> None:
    fake_openai.fail(status)
    with pytest.raises(error) as caught:
        await provider.complete(info(openai_spec(fake_openai)), Request.from_text("hi"))
    assert caught.value.status == status  # type: ignore[attr-defined]
    assert caught.value.model == "fake-model"  # type: ignore[attr-defined]
    assert str(status) in str(caught.value)


@pytest.mark.parametrize(("header", "seconds"), [("7", 7.0), ("0.5", 0.5)])
async def test_retry_after_seconds(
    provider: OpenAIProvider, fake_openai: FakeOpenAI, header: str, seconds: float
) -> None:
    fake_openai.fail(429, retry_after=header)
    with pytest.raises(UpstreamRateLimitError) as caught:
        await provider.complete(info(openai_spec(fake_openai)), Request.from_text("hi"))
    assert caught.value.retry_after == seconds


async def test_unreachable_upstream_is_a_clear_typed_error(provider: OpenAIProvider) -> None:
    dead = ModelConfig(
        name="dead", provider="openai", base_url="http://127.0.0.1:9/v1", timeout_s=2.0
    )
    with pytest.raises(UpstreamUnavailableError) as caught:
        await provider.complete(info(dead), Request.from_text("hi"))
    assert "dead" in str(caught.value)
    assert "127.0.0.1:9" in str(caught.value)
    assert caught.value.retryable


async def test_timeout_is_unavailable(provider: OpenAIProvider, fake_openai: FakeOpenAI) -> None:
    fake_openai.delay(2.0)
    model = info(openai_spec(fake_openai, timeout_s=0.2))
    with pytest.raises(UpstreamUnavailableError, match="timed out"):
        await provider.complete(model, Request.from_text("hi"))


async def test_dropped_connection_is_unavailable(
    provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.drop()
    with pytest.raises(UpstreamUnavailableError):
        await provider.complete(info(openai_spec(fake_openai)), Request.from_text("hi"))


async def test_stream_closed_early_releases_the_upstream(
    provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.slow_stream(0.05)
    stream = provider.stream(info(openai_spec(fake_openai)), Request.from_text("a b c d e f g"))
    first = await stream.__anext__()
    assert first["object"] == "chat.completion.chunk"
    assert fake_openai.active_requests == 1
    await stream.aclose()  # type: ignore[attr-defined]
    assert fake_openai.wait_idle()


def test_unavailable_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = OpenAIProvider()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    hosted = ModelConfig(name="gpt-4.1-mini", provider="openai", api_key_env="OPENAI_API_KEY")
    assert provider.unavailable_reason(hosted) == "no OPENAI_API_KEY in the environment"
    default_env = ModelConfig(name="gpt-4.1", provider="openai")
    assert provider.unavailable_reason(default_env) == "no OPENAI_API_KEY in the environment"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert provider.unavailable_reason(hosted) is None
    local = ModelConfig(name="qwen", provider="openai", base_url="http://127.0.0.1:11434/v1")
    assert provider.unavailable_reason(local) is None
    # a batch entry needs the same key; the job queue sends it (see tests/queue)
    batch = hosted.model_copy(update={"batch": True})
    assert provider.unavailable_reason(batch) is None
    monkeypatch.delenv("OPENAI_API_KEY")
    assert provider.unavailable_reason(batch) == "no OPENAI_API_KEY in the environment"


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/", "https://api.example.com", None],
)
def test_the_call_url_is_the_one_the_sdk_would_join(base_url: str | None) -> None:
    """The provider hands the SDK an absolute URL; it is the SDK's own join of the
    chat completions path to the client's base URL."""
    provider = OpenAIProvider()
    spec = ModelConfig(name="m", provider="openai", base_url=base_url, api_key_env="NO_SUCH")
    target, _ = provider._target(info(spec))
    assert target.url == str(target.client._prepare_url("/chat/completions"))
    assert target.url.endswith("/chat/completions")
