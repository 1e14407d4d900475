"""``POST /v1/messages/count_tokens`` through the official ``anthropic`` SDK: exact from
an Anthropic model's own counter, else the offline estimate; Anthropic-style errors."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from server.harness import LiveGateway, build_pipeline, gateway_config
from switchtower.config.schema import Config
from switchtower.server.count_tokens import IMAGE_TOKENS
from switchtower.store.sql import SqlTraceStore
from switchtower.tokens import estimate_message_tokens, estimate_tokens

TOOL = {
    "name": "lookup",
    "description": "find a symbol in the repository",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
}
SYSTEM = "you are a careful reviewer of database migrations"
QUESTION = "is it safe to drop the legacy column now?"


def client(gw: LiveGateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)


def test_an_anthropic_model_counts_exactly(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    raw = client(gateway).messages.with_raw_response.count_tokens(
        model="fake-claude",
        system=SYSTEM,
        tools=[TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": QUESTION}],
    )
    counted = raw.parse()
    sent = fake_anthropic.requests[-1]
    assert set(sent) <= {"model", "messages", "system", "tools", "tool_choice"}
    assert sent["system"] == SYSTEM
    tool_words = len(json.dumps(sent["tools"][0]).split())
    assert counted.input_tokens == len(SYSTEM.split()) + len(QUESTION.split()) + tool_words
    assert raw.headers["x-switchtower-token-count"] == "exact"


@pytest.mark.parametrize("model", ["auto", "fake-local", "claude-not-configured"])
def test_other_models_get_the_offline_estimate(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic, model: str
) -> None:
    raw = client(gateway).messages.with_raw_response.count_tokens(
        model=model,
        system=SYSTEM,
        tools=[TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": QUESTION}],
    )
    assert raw.headers["x-switchtower-token-count"] == "estimate"
    without_tools = estimate_message_tokens(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    )
    assert raw.parse().input_tokens > without_tools  # the tools count too
    assert raw.parse().input_tokens < without_tools + estimate_tokens(json.dumps(TOOL)) + 20
    assert fake_anthropic.requests == []  # nothing asked upstream


def test_a_failing_counter_falls_back_to_the_estimate(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail(529)
    raw = client(gateway).messages.with_raw_response.count_tokens(
        model="fake-claude", messages=[{"role": "user", "content": QUESTION}]
    )
    assert raw.headers["x-switchtower-token-count"] == "estimate"
    assert raw.parse().input_tokens > 0


def test_a_longer_prompt_counts_more(gateway: LiveGateway) -> None:
    c = client(gateway)

    def count(text: str) -> int:
        return c.messages.count_tokens(
            model="auto", messages=[{"role": "user", "content": text}]
        ).input_tokens

    assert count("word " * 400) > count("word " * 40) > 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "auto", "messages": []}, "messages"),
        ({"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
         "max_tokens"),
        ({"model": "auto", "messages": [{"role": "user", "content": [{"type": "text",
          "text": "x", "cache_control": {"type": "forever"}}]}]},
         "messages[0].content[0].cache_control"),
    ],
)  # fmt: skip
def test_bad_bodies_are_anthropic_400s(
    gateway: LiveGateway, body: dict[str, Any], field: str
) -> None:
    answer = httpx.post(f"{gateway.url}/v1/messages/count_tokens", json=body, timeout=10)
    assert answer.status_code == 400
    error = answer.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert field in error["error"]["message"]


def test_images_and_returned_thinking_count_in_the_estimate(gateway: LiveGateway) -> None:
    """Claude Code compacts by this number: a screenshot counted as nothing would let a
    conversation run past the model's window."""
    c = client(gateway)
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}

    def count(content: Any) -> int:
        return c.messages.count_tokens(
            model="auto", messages=[{"role": "user", "content": content}]
        ).input_tokens

    plain = count([{"type": "text", "text": "what is on the screen?"}])
    shot = count([{"type": "text", "text": "what is on the screen?"},
                  {"type": "image", "source": image}])  # fmt: skip
    assert shot - plain == IMAGE_TOKENS
    thought = "the user wants the failing test fixed first " * 20
    history: Any = [
        {"role": "user", "content": "fix it"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": thought, "signature": "sig"},
            {"type": "text", "text": "ok"}]},
        {"role": "user", "content": "go on"},
    ]  # fmt: skip
    with_thinking = c.messages.count_tokens(model="auto", messages=history).input_tokens
    history[1]["content"] = [{"type": "text", "text": "ok"}]
    without = c.messages.count_tokens(model="auto", messages=history).input_tokens
    assert with_thinking - without >= 100


def test_the_upstream_model_id_finds_the_counter_too(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, store: SqlTraceStore, tmp_path: Any
) -> None:
    """Claude Code names the provider's model id (claude-sonnet-4-5), not the entry."""
    data = gateway_config(fake_openai, fake_anthropic, db=tmp_path / "t.db").model_dump()
    data["tiers"]["realtime"]["models"][-1]["model"] = "claude-sonnet-4-5"
    with LiveGateway(build_pipeline(Config.model_validate(data), store)) as gw:
        raw = client(gw).messages.with_raw_response.count_tokens(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": QUESTION}]
        )
    assert raw.headers["x-switchtower-token-count"] == "exact"
    assert fake_anthropic.requests[-1]["model"] == "claude-sonnet-4-5"
