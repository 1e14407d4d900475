"""Extended thinking through ``/v1/messages`` with the official ``anthropic`` SDK: the
``thinking`` parameter reaches an Anthropic model, its signed thinking comes back (plain
and streamed), and a client that gives it back with a tool result gets it to the model
unchanged (the API refuses a tool turn without it, or with it altered). Other upstreams
see neither."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from fakes.thinking import sign
from server.harness import LiveGateway

THINKING = {"type": "enabled", "budget_tokens": 1024}
TOOL = {
    "name": "read_file",
    "description": "read a file",
    "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
}


def client(gw: LiveGateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)


def ask(model: str = "fake-claude", **kw: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 2048,
        "thinking": THINKING,
        "tools": [TOOL],
        "messages": [{"role": "user", "content": "what does setup.py install?"}],
        **kw,
    }


def test_thinking_comes_back_signed_and_goes_back_with_the_tool_result(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    c = client(gateway)
    first = c.messages.create(**ask())
    assert fake_anthropic.requests[-1]["thinking"] == THINKING
    kinds = [b.type for b in first.content]
    assert kinds == ["thinking", "text", "tool_use"]
    thought = first.content[0]
    assert thought.type == "thinking"
    assert thought.signature == sign(thought.thinking)
    call = first.content[2]
    assert call.type == "tool_use"
    # the next turn, as Claude Code sends it: the whole assistant turn, then the result
    history: Any = [
        {"role": "user", "content": "what does setup.py install?"},
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call.id, "content": "install_requires=[]"}]},
    ]  # fmt: skip
    second = c.messages.create(**ask(messages=history, tool_choice={"type": "none"}))
    assert second.stop_reason == "end_turn"
    sent = fake_anthropic.requests[-1]["messages"][1]["content"]
    assert sent[0] == {"type": "thinking", "thinking": thought.thinking,
                       "signature": thought.signature}  # fmt: skip


def test_streamed_thinking_is_a_signed_block(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    with client(gateway).messages.stream(**ask(tools=[])) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_message()
    assert "thinking" in events  # the SDK's own thinking-delta event
    assert "signature" in events
    thought = final.content[0]
    assert thought.type == "thinking"
    assert thought.thinking.startswith("the question has")
    assert thought.signature == sign(thought.thinking)
    assert final.content[1].type == "text"


def test_redacted_thinking_goes_back_verbatim(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}
    history: Any = [
        {"role": "user", "content": "read it"},
        {"role": "assistant", "content": [
            redacted, {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}]},
    ]  # fmt: skip
    client(gateway).messages.create(**ask(messages=history))
    assert fake_anthropic.requests[-1]["messages"][1]["content"][0] == redacted


def test_other_upstreams_never_see_thinking(gateway: LiveGateway, fake_openai: FakeOpenAI) -> None:
    thought = "checking the file first"
    history: Any = [
        {"role": "user", "content": "read it"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": thought, "signature": sign(thought)},
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}]},
    ]  # fmt: skip
    answer = client(gateway).messages.create(**ask(model="fake-local", messages=history))
    assert answer.content[0].type != "thinking"
    sent = json.dumps(fake_openai.requests[-1])
    assert "thinking" not in sent
    assert "tool_calls" in sent  # the rest of the turn is all there


def test_a_thinking_block_without_its_signature_is_a_400(gateway: LiveGateway) -> None:
    history: Any = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm"}]},
        {"role": "user", "content": "again"},
    ]
    with pytest.raises(anthropic.BadRequestError) as bad:
        client(gateway).messages.create(**ask(messages=history))
    assert "messages[1].content[0].signature" in bad.value.message


@pytest.mark.parametrize(
    ("thinking", "field"),
    [({"type": "bogus"}, "thinking.type"),
     ({"type": "enabled"}, "thinking.budget_tokens"),
     ({"type": "enabled", "budget_tokens": "x"}, "thinking.budget_tokens"),
     ({"type": "enabled", "budget_tokens": 512}, "thinking.budget_tokens"),
     ({"type": "enabled", "budget_tokens": 4096}, "thinking.budget_tokens"),  # >= max_tokens
     ("on", "thinking")],
)  # fmt: skip
def test_bad_thinking_is_a_400_naming_the_field(
    gateway: LiveGateway, thinking: Any, field: str
) -> None:
    """Checked before routing: a value Claude would refuse must not quietly fall back to
    a model that ignores it."""
    for model in ("fake-claude", "auto", "fake-local"):
        with pytest.raises(anthropic.BadRequestError) as bad:
            client(gateway).messages.create(**ask(model=model, thinking=thinking))
        assert field in bad.value.message
    if isinstance(thinking, dict) and thinking.get("budget_tokens") == 4096:
        return  # count_tokens has no max_tokens to compare the budget with
    body = {"model": "auto", "thinking": thinking, "messages": [{"role": "user", "content": "x"}]}
    answer = httpx.post(f"{gateway.url}/v1/messages/count_tokens", json=body, timeout=10)
    assert answer.status_code == 400
    assert field in answer.json()["error"]["message"]


def test_a_turn_cut_off_while_thinking_is_kept(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    thought = "still weighing the options"
    history: Any = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": thought, "signature": sign(thought)}]},
        {"role": "user", "content": "again"},
    ]  # fmt: skip
    c = client(gateway)
    c.messages.create(**ask(messages=history, tools=[]))
    sent = fake_anthropic.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][0]["signature"] == sign(thought)
    c.messages.create(**ask(model="fake-local", messages=history, tools=[]))
    assert [m["role"] for m in fake_openai.requests[-1]["messages"]] == ["user", "user"]


def test_a_tool_turn_another_model_answered_goes_to_claude_without_thinking(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    """On auto, a conversation can move from a local model to Claude mid-task: the
    local model's tool turn has no signed thinking, which cannot be made up, so that
    call goes without thinking instead of being refused."""
    history: Any = [
        {"role": "user", "content": "read it"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}]},
    ]  # fmt: skip
    answer = client(gateway).messages.create(**ask(messages=history))
    assert answer.stop_reason in ("end_turn", "tool_use")
    assert "thinking" not in fake_anthropic.requests[-1]
    assert answer.content[0].type != "thinking"


def test_chat_clients_can_ask_claude_to_think_and_give_the_blocks_back(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    chat = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
    first = chat.chat.completions.create(
        model="fake-claude",
        messages=[{"role": "user", "content": "plan the migration"}],
        extra_body={"thinking": THINKING},
        max_tokens=2048,
    )
    message = first.choices[0].message
    extra: Any = message.model_extra
    assert extra["reasoning_content"].startswith("the question has")
    blocks = extra["thinking_blocks"]
    assert blocks[0]["signature"] == sign(blocks[0]["thinking"])
    history: Any = [
        {"role": "user", "content": "plan the migration"},
        {"role": "assistant", "content": message.content, "thinking_blocks": blocks},
        {"role": "user", "content": "go on"},
    ]
    chat.chat.completions.create(model="fake-claude", messages=history, max_tokens=2048,
                                 extra_body={"thinking": THINKING})  # fmt: skip
    assert fake_anthropic.requests[-1]["messages"][1]["content"][0] == blocks[0]
    with pytest.raises(openai.BadRequestError) as bad:
        chat.chat.completions.create(
            model="fake-claude",
            messages=[{**history[1], "thinking_blocks": 5}, history[2]],
        )
    assert bad.value.body["param"] == "messages[0].thinking_blocks"  # type: ignore[index]


def test_chat_streams_carry_reasoning_and_whole_signed_blocks(gateway: LiveGateway) -> None:
    """Streamed, a chat client sees the thinking as reasoning_content deltas, then each
    block whole (text and signature) as a thinking_blocks delta: what it gives back."""
    chat = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
    reasoning, blocks, keys = [], [], set()
    for chunk in chat.chat.completions.create(
        model="fake-claude", messages=[{"role": "user", "content": "plan it"}],
        extra_body={"thinking": THINKING}, max_tokens=2048, stream=True,
    ):  # fmt: skip
        for choice in chunk.choices:
            extra: Any = choice.delta.model_extra or {}
            keys |= set(extra)
            reasoning.append(extra.get("reasoning_content") or "")
            blocks += extra.get("thinking_blocks") or []
    assert keys <= {"reasoning_content", "thinking_blocks"}  # nothing internal leaks
    (block,) = blocks
    assert block["thinking"] == "".join(reasoning)
    assert block["signature"] == sign(block["thinking"])


@pytest.mark.parametrize(
    ("params", "field"),
    [({"max_tokens": 1024}, "thinking.budget_tokens"),
     ({"max_completion_tokens": 100}, "thinking.budget_tokens")],
)  # fmt: skip
def test_chat_thinking_budget_must_fit_the_answer(
    gateway: LiveGateway, params: dict[str, int], field: str
) -> None:
    chat = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError) as bad:
        chat.chat.completions.create(
            model="fake-claude", messages=[{"role": "user", "content": "x"}],
            extra_body={"thinking": THINKING}, **params,  # type: ignore[arg-type]
        )  # fmt: skip
    assert bad.value.body["param"] == field  # type: ignore[index]


def test_without_max_tokens_the_budget_gets_room_to_answer(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    chat = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
    chat.chat.completions.create(
        model="fake-claude", messages=[{"role": "user", "content": "x"}],
        extra_body={"thinking": THINKING},
    )  # fmt: skip
    sent = fake_anthropic.requests[-1]
    assert sent["thinking"] == THINKING
    assert sent["max_tokens"] > THINKING["budget_tokens"]


@pytest.mark.parametrize(
    "extra",
    [{"tool_choice": {"type": "any"}},
     {"tool_choice": {"type": "tool", "name": "read_file"}}],
)  # fmt: skip
def test_a_forced_tool_goes_without_thinking(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic, extra: dict[str, Any]
) -> None:
    """The API refuses thinking with a forced tool; the answer's shape comes first."""
    answer = client(gateway).messages.create(**ask(**extra))
    assert "thinking" not in fake_anthropic.requests[-1]
    assert any(b.type == "tool_use" for b in answer.content)
