"""The ``contract`` scorer: JSON mode, JSON schema and tool calls, each kept and broken."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakes.tools import WEATHER_TOOL
from switchtower.scoring.contract import ContractScorer, check_contract
from switchtower.types import Completion, Request, Usage

SCHEMA = {
    "type": "object",
    "properties": {"total": {"type": "number"}, "currency": {"enum": ["EUR", "USD"]}},
    "required": ["total", "currency"],
    "additionalProperties": False,
}
TOOLS = [WEATHER_TOOL, {"type": "function", "function": {"name": "now"}}]


def answer(text: str = "", *, calls: list[Any] | None = None, finish: str = "stop") -> Completion:
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls is not None:
        message["tool_calls"] = calls
    raw = {"choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    return Completion(
        text=text, model="m", tier="local", usage=Usage(), cost_usd=0.0, finish_reason=finish,
        raw=raw,
    )  # fmt: skip


def streamed(text: str, finish: str = "stop") -> Completion:
    """A streamed answer: text and finish reason, no raw message."""
    return Completion(
        text=text, model="m", tier="local", usage=Usage(), cost_usd=0.0, finish_reason=finish
    )


def call(name: str, arguments: object) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": "c1", "type": "function", "function": {"name": name, "arguments": args}}


def req(**params: Any) -> Request:
    return Request.from_text("do it", params=params)


JSON_MODE = {"type": "json_object"}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "invoice", "schema": SCHEMA}}


def test_a_request_without_a_contract_is_not_scored() -> None:
    assert check_contract(req(), answer("anything")) is None
    assert check_contract(req(response_format={"type": "text"}), answer("x")) is None
    assert ContractScorer().score(req(temperature=0), answer("")) is None


@pytest.mark.parametrize(
    ("text", "kept", "why"),
    [
        ('{"total": 3}', True, "json_object answer"),
        ('  {"total": 3}\n', True, "json_object answer"),
        ('```json\n{"total": 3}\n```', False, "not JSON"),
        ('Here it is: {"total": 3}', False, "not JSON"),
        ("[1, 2]", False, "not an object"),
        ("", False, "empty"),
    ],
)
def test_json_mode(text: str, kept: bool, why: str) -> None:
    result = check_contract(req(response_format=JSON_MODE), answer(text))
    assert result is not None
    assert result[0] is kept
    assert why in result[1]


@pytest.mark.parametrize(
    ("text", "kept", "why"),
    [
        ('{"total": 12.5, "currency": "EUR"}', True, "json_schema answer"),
        ('{"total": "12.5", "currency": "EUR"}', False, "total: '12.5' is not of type 'number'"),
        ('{"total": 12.5}', False, "'currency' is a required property"),
        ('{"total": 1, "currency": "GBP"}', False, "currency: 'GBP' is not one of"),
        ('{"total": 1, "currency": "EUR", "x": 1}', False, "Additional properties"),
    ],
)
def test_json_schema(text: str, kept: bool, why: str) -> None:
    result = check_contract(req(response_format=JSON_SCHEMA), answer(text))
    assert result is not None
    assert result[0] is kept
    assert why in result[1]


def test_an_invalid_schema_is_not_held_against_the_answer() -> None:
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 12}}}
    assert check_contract(req(response_format=bad), answer('{"a": 1}')) == (
        True,
        "kept the contract: json_schema answer",
    )
    # ...but the answer still has to be JSON
    result = check_contract(req(response_format=bad), answer("not json"))
    assert result is not None
    assert result[0] is False


@pytest.mark.parametrize(
    ("calls", "kept", "why"),
    [
        ([call("get_weather", {"city": "Oslo"})], True, "1 tool call"),
        ([call("get_weather", {"city": "Oslo"}), call("now", {})], True, "2 tool call"),
        ([call("get_wether", {"city": "Oslo"})], False, "'get_wether', which was not offered"),
        ([call("get_weather", '{"city": "Os')], False, "not JSON"),
        ([call("get_weather", "[1]")], False, "not a JSON object"),
        ([call("get_weather", {"town": "Oslo"})], False, "'city' is a required property"),
        ([call("get_weather", {"city": 7})], False, "7 is not of type 'string'"),
    ],
)
def test_tool_calls(calls: list[Any], kept: bool, why: str) -> None:
    result = check_contract(req(tools=TOOLS), answer(calls=calls, finish="tool_calls"))
    assert result is not None
    assert result[0] is kept
    assert why in result[1]


def test_tool_choice() -> None:
    text_only = answer("It is sunny.")
    assert check_contract(req(tools=TOOLS), text_only) == (
        True,
        "kept the contract: no tool call",
    )
    required = check_contract(req(tools=TOOLS, tool_choice="required"), text_only)
    assert required == (False, "tool_choice required a call")
    named = {"type": "function", "function": {"name": "now"}}
    other = answer(calls=[call("get_weather", {"city": "Oslo"})], finish="tool_calls")
    assert check_contract(req(tools=TOOLS, tool_choice=named), other) == (
        False,
        "tool_choice required a call of 'now'",
    )
    right = answer(calls=[call("now", {})], finish="tool_calls")
    result = check_contract(req(tools=TOOLS, tool_choice=named), right)
    assert result is not None
    assert result[0] is True


@pytest.mark.parametrize(
    ("finish", "why"),
    [("length", "token limit"), ("content_filter", "content filter")],
)
def test_a_cut_off_answer_breaks_the_contract(finish: str, why: str) -> None:
    result = check_contract(req(response_format=JSON_MODE), answer('{"total": 3', finish=finish))
    assert result is not None
    assert result[0] is False
    assert why in result[1]


def test_json_mode_with_a_tool_call_checks_the_call_not_the_text() -> None:
    both = req(response_format=JSON_MODE, tools=TOOLS)
    result = check_contract(both, answer(calls=[call("now", {})], finish="tool_calls"))
    assert result == (True, "kept the contract: 1 tool call(s)")


def test_streamed_answers_get_the_json_checks_only() -> None:
    assert check_contract(req(response_format=JSON_MODE), streamed('{"a": 1}')) == (
        True,
        "kept the contract: json_object answer",
    )
    bad = check_contract(req(response_format=JSON_MODE), streamed("sure! {"))
    assert bad is not None
    assert bad[0] is False
    # a stream's tool calls are not kept: nothing to judge, not a failure
    assert check_contract(req(tools=TOOLS), streamed("", finish="tool_calls")) is None


def test_the_outcome_names_its_source_and_why() -> None:
    out = ContractScorer().score(req(response_format=JSON_MODE), answer("no"))
    assert out is not None
    assert out.success is False
    assert out.source == "contract"
    assert out.comment is not None
    assert out.comment.startswith("the answer is not JSON")
    long_bad = "x" * 5000
    out = ContractScorer().score(req(response_format=JSON_MODE), answer(long_bad))
    assert out is not None
    assert out.comment is not None
    assert len(out.comment) <= 200


def test_odd_values_never_raise() -> None:
    odd: list[dict[str, Any]] = [
        {"response_format": "json"},
        {"response_format": {"type": "json_schema"}},
        {"response_format": {"type": "json_schema", "json_schema": {"schema": "nope"}}},
        {"tools": "nope"},
        {"tools": [1, None, {"function": None}]},
        {"tools": TOOLS, "tool_choice": {"function": 3}},
    ]
    weird_raw: list[Any] = [{}, {"choices": []}, {"choices": [None]}, {"choices": [{"message": 1}]}]
    for params in odd:
        for raw in weird_raw:
            c = Completion(text="{}", model="m", tier="local", usage=Usage(), cost_usd=0.0, raw=raw)
            check_contract(req(**params), c)
    calls: list[Any] = [None, 1, {"function": None}, {"function": {"name": None}}]
    result = check_contract(req(tools=TOOLS), answer(calls=calls, finish="tool_calls"))
    assert result is not None
    assert result[0] is False


def test_a_refusal_breaks_the_contract() -> None:
    refused = answer()
    message = refused.raw["choices"][0]["message"]
    message["refusal"] = "I can't help with that."
    result = check_contract(req(response_format=JSON_SCHEMA), refused)
    assert result == (False, "the model refused: I can't help with that.")
