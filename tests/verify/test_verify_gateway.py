"""Second opinions through the live gateway, with the official openai SDK as the client:
the escalated model answers, and the response headers and the trace say so."""

from __future__ import annotations

from pathlib import Path

import anthropic
import httpx
import openai

from fakes.openai_upstream import FakeOpenAI
from server.harness import LiveGateway
from switchtower.pipeline import Pipeline
from switchtower.store import open_store
from verify.checked import checked_config


def test_a_disagreement_is_answered_by_the_escalation(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    db = tmp_path / "t.db"
    pipeline = Pipeline.from_config(checked_config(fake_openai, db))
    fake_openai.reply("A", model="yi")
    fake_openai.reply("C", model="mixtral")
    fake_openai.reply("C", model="big")
    with LiveGateway(pipeline) as gateway:
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="auto",
            messages=[{"role": "user", "content": "Which is a mammal? A) trout B) crow C) bat"}],
            extra_headers={"x-switchtower-operation": "answer-question"},
        )
        metrics = httpx.get(gateway.url + "/metrics").text
    assert 'switchtower_checks_total{verdict="disagree"} 1.0' in metrics
    answer = raw.parse()
    assert answer.choices[0].message.content == "C"
    assert raw.headers["x-switchtower-model"] == "big"
    assert raw.headers["x-switchtower-tier"] == "realtime"
    assert float(raw.headers["x-switchtower-cost-usd"]) > 0
    trace = open_store(f"sqlite:///{db}").get(raw.headers["x-switchtower-trace-id"])
    assert trace is not None
    assert trace.decision["verification"]["verdict"] == "disagree"
    assert {a.model for a in trace.attempts} == {"yi", "mixtral", "big"}


def test_the_anthropic_endpoint_is_checked_too(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    pipeline = Pipeline.from_config(checked_config(fake_openai, tmp_path / "t.db"))
    fake_openai.reply("A", model="yi")
    fake_openai.reply("C", model="mixtral")
    fake_openai.reply("C", model="big")
    with LiveGateway(pipeline) as gateway:
        client = anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0)
        raw = client.messages.with_raw_response.create(
            model="auto",
            max_tokens=16,
            messages=[{"role": "user", "content": "Which is a mammal? A) trout B) crow C) bat"}],
            extra_headers={"x-switchtower-operation": "answer-question"},
        )
    message = raw.parse()
    assert message.content[0].type == "text"
    assert message.content[0].text == "C"
    assert raw.headers["x-switchtower-model"] == "big"
