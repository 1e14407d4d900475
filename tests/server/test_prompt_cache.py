"""Prompt caching through the gateway: Anthropic's ``cache_control`` breakpoints reach
an Anthropic upstream (from ``/v1/messages`` and from OpenAI-format parts), are left out
for OpenAI-compatible upstreams, and the cache reads and writes the upstream reports come
back in each wire's own usage shape, are stored on the trace and priced at their own
rates."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from fakes.prompt_cache import OPENAI_MIN_TOKENS
from server.harness import LiveGateway
from switchtower.store.sql import SqlTraceStore

EPHEMERAL = {"type": "ephemeral"}
#: fake-claude's prices in the harness (USD per million tokens)
IN, OUT, READ, WRITE = 3.0, 15.0, 0.3, 3.75
RULES = "you review pull requests for a payments team; " * 40  # 320 words
TOOL = {
    "name": "lookup",
    "description": "find a symbol",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
}


def claude(gw: LiveGateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)


def oai(gw: LiveGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)


def marked_request(model: str, question: str) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 32,
        "system": [{"type": "text", "text": RULES, "cache_control": EPHEMERAL}],
        "tools": [{**TOOL, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "tool_choice": {"type": "none"},
        "messages": [{"role": "user", "content": [{"type": "text", "text": question}]}],
    }


def expected_cost(usage: Any) -> float:
    return (
        usage.input_tokens * IN
        + usage.cache_read_input_tokens * READ
        + usage.cache_creation_input_tokens * WRITE
        + usage.output_tokens * OUT
    ) / 1e6


def stored(gw: LiveGateway, store: SqlTraceStore, message_id: str) -> Any:
    gw.app.gateway.writer.flush()
    trace = store.get(message_id.removeprefix("msg_"))
    assert trace is not None
    return trace


def test_breakpoints_reach_anthropic_and_reads_are_priced_apart(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic, store: SqlTraceStore
) -> None:
    c = claude(gateway)
    first = c.messages.create(**marked_request("fake-claude", "check the refund flow"))
    sent = fake_anthropic.requests[-1]
    assert sent["system"] == [{"type": "text", "text": RULES, "cache_control": EPHEMERAL}]
    assert sent["tools"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert first.usage.cache_creation_input_tokens == 320
    assert first.usage.cache_read_input_tokens == 0

    second = c.messages.create(**marked_request("fake-claude", "now the payout flow"))
    usage = second.usage
    assert usage.cache_read_input_tokens == 320
    assert usage.cache_creation_input_tokens == 0
    assert usage.input_tokens == 4  # only the new question is uncached

    trace = stored(gateway, store, second.id)
    assert trace.usage.cache_read_tokens == 320
    assert trace.usage.input_tokens == 324  # the trace counts the whole prompt
    assert trace.cost_usd == pytest.approx(expected_cost(usage))
    # the same prompt with no cache hit costs about 10x as much on the input side
    assert trace.cost_usd < (324 * IN + usage.output_tokens * OUT) / 1e6 / 3
    first_trace = stored(gateway, store, first.id)
    assert first_trace.usage.cache_write_tokens == 320
    assert first_trace.cost_usd == pytest.approx(expected_cost(first.usage))


def test_streamed_answer_reports_cache_reads(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic, store: SqlTraceStore
) -> None:
    c = claude(gateway)
    c.messages.create(**marked_request("fake-claude", "warm the cache"))
    with c.messages.stream(**marked_request("fake-claude", "the second question")) as stream:
        final = stream.get_final_message()
    assert final.usage.cache_read_input_tokens == 320
    assert final.usage.input_tokens == 3
    trace = stored(gateway, store, final.id)
    assert trace.usage.cache_read_tokens == 320
    assert trace.cost_usd == pytest.approx(expected_cost(final.usage))


def test_openai_upstreams_never_see_the_marks(
    gateway: LiveGateway, fake_openai: FakeOpenAI
) -> None:
    message = claude(gateway).messages.create(**marked_request("fake-local", "a question"))
    assert message.content[0].type == "text"
    sent = fake_openai.requests[-1]
    assert "cache_control" not in json.dumps(sent)
    assert RULES.strip() in json.dumps(sent)  # the text itself is all there
    assert sent["tools"][0]["function"]["name"] == "lookup"


def test_text_that_mentions_cache_control_changes_nothing(
    gateway: LiveGateway, fake_openai: FakeOpenAI
) -> None:
    """Only a mark where marks live counts: an assistant turn given as parts, whose text
    quotes the word, reaches an OpenAI-compatible upstream as the client sent it (a
    cleaning pass would have made it a string)."""
    said = [{"type": "text", "text": 'set "cache_control": {"type": "ephemeral"} on it'}]
    messages: Any = [
        {"role": "user", "content": "how do I cache a prefix?"},
        {"role": "assistant", "content": said},
        {"role": "user", "content": "thanks"},
    ]
    oai(gateway).chat.completions.create(model="fake-local", messages=messages)
    assert fake_openai.requests[-1]["messages"][1]["content"] == said


def test_openai_format_parts_carry_marks_to_anthropic(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    """The convention OpenAI-format gateways share: ``cache_control`` on a content part."""
    messages: Any = [
        {
            "role": "system",
            "content": [{"type": "text", "text": RULES, "cache_control": EPHEMERAL}],
        },
        {"role": "user", "content": "is this refund safe?"},
    ]
    c = oai(gateway)
    c.chat.completions.create(model="fake-claude", messages=messages)
    assert fake_anthropic.requests[-1]["system"][0]["cache_control"] == EPHEMERAL
    again = c.chat.completions.create(model="fake-claude", messages=messages)
    assert again.usage is not None
    assert again.usage.prompt_tokens_details is not None
    assert again.usage.prompt_tokens_details.cached_tokens == 320
    assert again.usage.prompt_tokens == 320 + 4


def test_tool_result_and_image_marks_are_carried(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    claude(gateway).messages.create(
        model="fake-claude",
        max_tokens=16,
        messages=[
            {"role": "user", "content": "look it up"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": "found it",
                        "cache_control": EPHEMERAL,
                    },
                    {"type": "image", "source": image, "cache_control": EPHEMERAL},
                ],
            },
        ],
    )
    last = fake_anthropic.requests[-1]["messages"][-1]["content"]
    assert [b["type"] for b in last] == ["tool_result", "image"]
    assert all(b["cache_control"] == EPHEMERAL for b in last)


@pytest.mark.parametrize(
    ("mark", "field"),
    [
        ({"type": "persistent"}, "system[0].cache_control"),
        ({"type": "ephemeral", "ttl": "2h"}, "system[0].cache_control"),
        ("ephemeral", "system[0].cache_control"),
    ],
)
def test_a_bad_mark_is_a_400_naming_it(gateway: LiveGateway, mark: Any, field: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as bad:
        claude(gateway).messages.create(
            model="fake-claude",
            max_tokens=16,
            system=[{"type": "text", "text": "rules", "cache_control": mark}],
            messages=[{"role": "user", "content": "hi"}],
        )
    assert field in bad.value.message


def test_openai_automatic_cache_reads_are_stored(
    gateway: LiveGateway, store: SqlTraceStore
) -> None:
    """OpenAI caches long prompts by itself and says so in ``prompt_tokens_details``."""
    long_context = "word " * OPENAI_MIN_TOKENS
    messages: Any = [
        {"role": "system", "content": long_context},
        {"role": "user", "content": "first"},
    ]
    c = oai(gateway)
    c.chat.completions.create(model="fake-frontier-0", messages=messages)
    raw = c.chat.completions.with_raw_response.create(
        model="fake-frontier-0", messages=[messages[0], {"role": "user", "content": "second"}]
    )
    answer = raw.parse()
    assert answer.usage is not None
    assert answer.usage.prompt_tokens_details is not None
    assert answer.usage.prompt_tokens_details.cached_tokens == OPENAI_MIN_TOKENS
    gateway.app.gateway.writer.flush()
    trace = store.get(raw.headers["x-switchtower-trace-id"])
    assert trace is not None
    assert trace.usage.cache_read_tokens == OPENAI_MIN_TOKENS


def test_one_hour_writes_are_priced_at_their_own_rate(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic, store: SqlTraceStore
) -> None:
    hourly = {"type": "ephemeral", "ttl": "1h"}
    body = marked_request("fake-claude", "check the refund flow")
    body["system"] = [{"type": "text", "text": RULES, "cache_control": hourly}]
    message = claude(gateway).messages.create(**body)
    assert message.usage.cache_creation is not None
    assert message.usage.cache_creation.ephemeral_1h_input_tokens == 320
    trace = stored(gateway, store, message.id)
    assert trace.usage.cache_write_1h_tokens == 320
    # fake-claude has no 1-hour price configured: Anthropic's 2x the input price
    expected = (4 * IN + 320 * 2 * IN + message.usage.output_tokens * OUT) / 1e6
    assert trace.cost_usd == pytest.approx(expected)


def test_inner_tool_result_marks_are_carried_and_checked(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic
) -> None:
    def turn(mark: Any) -> list[Any]:
        return [
            {"role": "user", "content": "look it up"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
             "content": [{"type": "text", "text": "found it", "cache_control": mark}]}]},
        ]  # fmt: skip

    c = claude(gateway)
    c.messages.create(model="fake-claude", max_tokens=16, messages=turn(EPHEMERAL))
    result = fake_anthropic.requests[-1]["messages"][-1]["content"][0]
    assert result["content"] == [{"type": "text", "text": "found it", "cache_control": EPHEMERAL}]
    with pytest.raises(anthropic.BadRequestError) as bad:
        c.messages.create(model="fake-claude", max_tokens=16, messages=turn({"type": "forever"}))
    assert "messages[2].content[0].content[0].cache_control" in bad.value.message


@pytest.mark.parametrize("inner", ["plain string", 1, {"type": "video"}])
def test_a_tool_result_holding_other_things_is_a_400(gateway: LiveGateway, inner: Any) -> None:
    with pytest.raises(anthropic.BadRequestError) as bad:
        claude(gateway).messages.create(
            model="fake-claude",
            max_tokens=16,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t", "content": [inner]}],
                },
            ],
        )
    assert "messages[0].content[0].content[0].type" in bad.value.message


def test_tool_result_images_reach_claude_and_move_to_a_user_turn_elsewhere(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    messages: Any = [
        {"role": "user", "content": "take a screenshot"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
         "content": [{"type": "text", "text": "here"}, {"type": "image", "source": image}]}]},
    ]  # fmt: skip
    c = claude(gateway)
    c.messages.create(model="fake-claude", max_tokens=16, messages=messages)
    result = fake_anthropic.requests[-1]["messages"][-1]["content"][0]
    assert [b["type"] for b in result["content"]] == ["text", "image"]
    assert result["content"][1]["source"] == image
    c.messages.create(model="fake-frontier-0", max_tokens=16, messages=messages)
    sent = fake_openai.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert sent[2]["content"] == "here"
    assert sent[3]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_openai_upstreams_get_strings_and_keep_a_parameter_named_cache_control(
    gateway: LiveGateway, fake_openai: FakeOpenAI
) -> None:
    schema = {
        "type": "object",
        "properties": {"url": {"type": "string"}, "cache_control": {"type": "string"}},
        "required": ["url", "cache_control"],
    }
    tool = {"type": "function", "function": {"name": "fetch", "parameters": schema},
            "cache_control": EPHEMERAL}  # fmt: skip
    messages: Any = [
        {"role": "system", "content": [
            {"type": "text", "text": "rule one"},
            {"type": "text", "text": "rule two", "cache_control": EPHEMERAL}]},
        {"role": "user", "content": [{"type": "text", "text": "go", "cache_control": EPHEMERAL}]},
    ]  # fmt: skip
    oai(gateway).chat.completions.create(model="fake-local", messages=messages, tools=[tool])
    sent = fake_openai.requests[-1]
    assert sent["tools"][0] == {
        "type": "function",
        "function": {"name": "fetch", "parameters": schema},
    }
    assert sent["messages"][0] == {"role": "system", "content": "rule one\nrule two"}
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "go"}]


@pytest.mark.parametrize(
    ("where", "mark"),
    [("messages[0].content[0].cache_control", {"type": "ephemeral", "ttl": "2h"}),
     ("messages[0].content[0].cache_control", "ephemeral"),
     ("tools[0].cache_control", {"type": "persistent"})],
)  # fmt: skip
def test_bad_marks_on_the_openai_wire_are_400s(gateway: LiveGateway, where: str, mark: Any) -> None:
    part: dict[str, Any] = {"type": "text", "text": "hi"}
    tool: dict[str, Any] = {"type": "function", "function": {"name": "f"}}
    (tool if where.startswith("tools") else part)["cache_control"] = mark
    with pytest.raises(openai.BadRequestError) as bad:
        oai(gateway).chat.completions.create(
            model="fake-claude", messages=[{"role": "user", "content": [part]}], tools=[tool]
        )
    assert bad.value.body["param"] == where  # type: ignore[index]


def test_a_model_option_keeps_the_marks_for_an_upstream_that_takes_them(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, store: SqlTraceStore, tmp_path: Any
) -> None:
    from server.harness import build_pipeline, gateway_config

    config = gateway_config(fake_openai, fake_anthropic, db=tmp_path / "traces.db")
    local = config.tiers["local"].models[0]
    local.options["keep_cache_control"] = True
    with LiveGateway(build_pipeline(config, store)) as gw:
        claude(gw).messages.create(**marked_request("fake-local", "a question"))
    sent = fake_openai.requests[-1]
    assert sent["messages"][0]["content"][0]["cache_control"] == EPHEMERAL
    assert sent["tools"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}


def test_image_only_tool_results_keep_a_text_and_join_the_next_user_turn(
    gateway: LiveGateway, fake_openai: FakeOpenAI
) -> None:
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    messages: Any = [
        {"role": "user", "content": "screenshots please"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "lookup", "input": {}},
            {"type": "tool_use", "id": "t2", "name": "lookup", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": [
                {"type": "image", "source": image}]},
            {"type": "tool_result", "tool_use_id": "t2", "is_error": True, "content": [
                {"type": "text", "text": "partial"}, {"type": "image", "source": image}]},
            {"type": "text", "text": "compare them"}]},
    ]  # fmt: skip
    claude(gateway).messages.create(model="fake-frontier-0", max_tokens=16, messages=messages)
    sent = fake_openai.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool", "user"]
    assert isinstance(sent[2]["content"], str)
    assert sent[2]["content"]  # never an empty tool message
    assert sent[3]["content"] == "[tool error] partial"
    last = sent[4]["content"]
    assert [p["type"] for p in last] == ["text", "image_url", "image_url", "text"]
    assert last[-1]["text"] == "compare them"


def test_documents_reach_claude_whole_and_others_hear_of_them(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    """Claude Code reads PDFs into tool results as document blocks: Claude gets them
    whole; a model that cannot read them is told one was there, rather than a 400."""
    pdf = {
        "type": "document",
        "cache_control": EPHEMERAL,
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
    }
    messages: Any = [
        {"role": "user", "content": [{"type": "text", "text": "compare"}, pdf]},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "lookup", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "content": [{"type": "text", "text": "spec:"}, pdf]}]},
    ]  # fmt: skip
    c = claude(gateway)
    c.messages.create(model="fake-claude", max_tokens=16, messages=messages)
    sent = fake_anthropic.requests[-1]["messages"]
    assert sent[0]["content"][1] == pdf
    assert sent[2]["content"][0]["content"][1] == pdf
    c.messages.create(model="fake-frontier-0", max_tokens=16, messages=messages)
    plain = fake_openai.requests[-1]["messages"]
    assert plain[0]["content"][1] == {
        "type": "text",
        "text": "[a document block was here: only models that read documents read it]",
    }
    assert plain[2] == {
        "role": "tool",
        "tool_call_id": "t1",
        "content": "spec:\n[a document block was here: only models that read documents read it]",
    }
    assert "JVBERi0=" not in json.dumps(fake_openai.requests[-1])


def test_a_tool_error_is_flagged_for_claude_and_said_in_words_elsewhere(
    gateway: LiveGateway, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    messages: Any = [
        {"role": "user", "content": "run it"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "lookup", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "is_error": True, "content": "exit 1"}]},
    ]  # fmt: skip
    c = claude(gateway)
    c.messages.create(model="fake-claude", max_tokens=16, messages=messages)
    result = fake_anthropic.requests[-1]["messages"][2]["content"][0]
    assert result["is_error"] is True
    c.messages.create(model="fake-frontier-0", max_tokens=16, messages=messages)
    tool = fake_openai.requests[-1]["messages"][2]
    assert tool == {"role": "tool", "tool_call_id": "t1", "content": "[tool error] exit 1"}
