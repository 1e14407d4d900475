"""The Responses encoder and answer body on chunks the fakes do not send: refusals, and
tool-call deltas; and OpenAI's own API getting ``max_completion_tokens``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from switchtower.config.schema import ModelConfig
from switchtower.providers.openai_compat import _for_api
from switchtower.server.responses_stream import ResponsesStream
from switchtower.server.responses_wire import response_body
from switchtower.types import Completion, Usage

EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def _events(raw: list[bytes]) -> list[dict[str, Any]]:
    out = []
    for frame in raw:
        data = frame.decode().split("data: ", 1)[1]
        EVENT.validate_json(data, strict=True)
        out.append(json.loads(data))
    return out


def test_a_streamed_refusal_is_a_refusal_part() -> None:
    enc = ResponsesStream("resp_t", "m", {}, 10)
    raw = enc.start()
    for piece in ("I can't ", "help with that."):
        raw += enc.feed({"choices": [{"index": 0, "delta": {"refusal": piece}}]})
    raw += enc.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    raw += enc.finish()
    events = _events(raw)
    kinds = [e["type"] for e in events]
    assert "response.refusal.delta" in kinds
    assert "response.refusal.done" in kinds
    final = events[-1]["response"]
    assert final["output"][0]["content"] == [
        {"type": "refusal", "refusal": "I can't help with that."}
    ]


def test_text_then_calls_in_one_stream() -> None:
    enc = ResponsesStream("resp_t", "m", {}, 10)
    raw = enc.start()
    raw += enc.feed({"choices": [{"index": 0, "delta": {"content": "Looking."}}]})
    for i, name in enumerate(("a", "b")):
        head = {"index": i, "id": f"call_{name}", "function": {"name": name, "arguments": ""}}
        raw += enc.feed({"choices": [{"index": 0, "delta": {"tool_calls": [head]}}]})
        args = {"index": i, "function": {"arguments": '{"x": 1}'}}
        raw += enc.feed({"choices": [{"index": 0, "delta": {"tool_calls": [args]}}]})
    raw += enc.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    raw += enc.finish()
    final = Response.model_validate(_events(raw)[-1]["response"], strict=True)
    assert final.output_text == "Looking."
    calls = [(o.call_id, o.name, o.arguments) for o in final.output if o.type == "function_call"]
    assert calls == [("call_a", "a", '{"x": 1}'), ("call_b", "b", '{"x": 1}')]


def test_an_answer_with_a_refusal_keeps_it() -> None:
    raw = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "No."},
                "finish_reason": "stop",
            }
        ]
    }
    completion = Completion(
        text="", model="m", tier="local", usage=Usage(3, 1), cost_usd=0.0, raw=raw
    )
    body = response_body(completion, "t", {})
    Response.model_validate(body, strict=True)
    assert body["output"][0]["content"] == [{"type": "refusal", "refusal": "No."}]


@pytest.mark.parametrize(
    ("base_url", "env", "key"),
    [
        (None, None, "max_completion_tokens"),
        ("https://api.openai.com/v1", None, "max_completion_tokens"),
        ("http://127.0.0.1:8000/v1", None, "max_tokens"),  # vLLM, Ollama: the old name
        (None, "http://127.0.0.1:11434/v1", "max_tokens"),
        ("https://eu.api.openai.com/v1", None, "max_completion_tokens"),  # data residency
        ("https://my.openai.azure.com/openai", None, "max_tokens"),
    ],
)
def test_openais_own_api_gets_the_limit_under_its_new_name(
    base_url: str | None, env: str | None, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    else:
        monkeypatch.setenv("OPENAI_BASE_URL", env)
    spec = ModelConfig(name="m", provider="openai", base_url=base_url)
    body = _for_api({"model": "m", "max_tokens": 64}, spec)
    assert body == {"model": "m", key: 64}
    both = {"max_tokens": 1, "max_completion_tokens": 2}
    assert _for_api(dict(both), spec) == both  # the client said both: as given
