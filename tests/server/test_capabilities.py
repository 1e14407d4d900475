"""``model: "auto"`` with images: the real router and selector behind the gateway send a
picture only to a model that takes images (``route/capabilities.py``), from both wires,
and a text request is routed as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from server.harness import LiveGateway, build_pipeline, gateway_config
from switchtower.config.schema import (
    ComponentConfig,
    Config,
    RouterConfig,
    SelectorConfig,
)
from switchtower.server import KeyStore, MemoryLimiter

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAE"
    "hQGAhKmMIQAAAABJRU5ErkJggg=="
)
PICTURE = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}


def _routed(config: Config) -> Config:
    return config.model_copy(
        update={
            "router": RouterConfig(policy=None),
            "selector": SelectorConfig(exploration=0.0),
            "signals": ComponentConfig(name="heuristic"),
        }
    )


def _local_takes_images(config: Config) -> Config:
    local = config.tiers["local"]
    vlm = local.models[0].model_copy(update={"capabilities": ("tools", "vision")})
    tiers = {**config.tiers, "local": local.model_copy(update={"models": (vlm,)})}
    return config.model_copy(update={"tiers": tiers})


def _chat(gw: LiveGateway, content: Any) -> httpx.Headers:
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": content}], max_tokens=16
    )
    return raw.headers


def test_a_picture_goes_to_a_model_that_takes_images(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    config = _routed(gateway_config(fake_openai, fake_anthropic))
    with LiveGateway(build_pipeline(config, None)) as gw:
        text = _chat(gw, "summarize this note in a line: the meeting moved to noon")
        assert text["x-switchtower-model"] == "fake-local"
        seen = _chat(gw, [{"type": "text", "text": "summarize this note in a line"}, PICTURE])
        # the local server and the two OpenAI-compatible frontier fakes are not known to
        # take images (loopback base_url, no capabilities given); Claude is
        assert seen["x-switchtower-model"] == "fake-claude"
        body = fake_anthropic.requests[-1]
        assert body["messages"][0]["content"][1]["source"]["data"] == PNG
        plan = httpx.post(
            f"{gw.url}/v1/route",
            json={"messages": [{"role": "user", "content": [PICTURE]}]},
        ).json()
        assert plan["model"] == "fake-claude"
        assert "holds images" in plan["explanation"]["tier"]


def test_a_screenshot_in_a_tool_result_counts_too(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    config = _routed(gateway_config(fake_openai, fake_anthropic))
    tool = {"name": "screenshot", "input_schema": {"type": "object"}}
    shot = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    with LiveGateway(build_pipeline(config, None)) as gw:
        client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
        raw = client.messages.with_raw_response.create(
            model="auto",
            max_tokens=16,
            tools=[tool],  # type: ignore[list-item]
            messages=[
                {"role": "user", "content": "summarize what the page shows"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "tu1", "name": "screenshot", "input": {}}
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": [shot]}],
                },
            ],
        )
        assert raw.headers["x-switchtower-model"] == "fake-claude"


def test_a_local_model_declared_to_take_images_keeps_them_local(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    config = _local_takes_images(_routed(gateway_config(fake_openai, fake_anthropic)))
    with LiveGateway(build_pipeline(config, None)) as gw:
        seen = _chat(gw, [{"type": "text", "text": "summarize this note in a line"}, PICTURE])
        assert seen["x-switchtower-model"] == "fake-local"
        last = fake_openai.requests[-1]
        assert last["messages"][0]["content"][1] == PICTURE


def test_no_model_that_takes_images_is_a_clear_refusal(fake_openai: FakeOpenAI) -> None:
    config = _routed(gateway_config(fake_openai))
    with LiveGateway(build_pipeline(config, None)) as gw:
        r = httpx.post(
            f"{gw.url}/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": [PICTURE]}]},
        )
        # no retry would help: the deployment's config would (a 400 naming the field)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert (error["code"], error["param"]) == ("unsupported_content", "messages")
        assert "holds images" in error["message"]
        assert "capabilities" in error["message"]
        # a model the client names is its choice: not second-guessed
        named = {"model": "fake-local", "messages": [{"role": "user", "content": [PICTURE]}]}
        assert httpx.post(f"{gw.url}/v1/chat/completions", json=named).status_code == 200


def test_a_key_with_a_budget_hears_the_real_reason_not_a_429(
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Only Claude takes images and it has no key here: no budget would help, so the
    refusal is not the budget's 429 (which clients retry)."""
    monkeypatch.delenv("FAKE_ANTHROPIC_KEY")
    keys = KeyStore.open(f"sqlite:///{tmp_path / 'keys.db'}")
    _, secret = keys.create("agent", daily_budget_usd=100.0)
    config = _routed(gateway_config(fake_openai, fake_anthropic))
    with LiveGateway(build_pipeline(config, None), keys=keys, limiter=MemoryLimiter()) as gw:
        r = httpx.post(
            f"{gw.url}/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": [PICTURE]}]},
            headers={"authorization": f"Bearer {secret}"},
        )
        assert r.status_code == 503, r.text
        assert "FAKE_ANTHROPIC_KEY" in r.json()["error"]["message"]
        # the budget still refuses what only the budget stops
        _, poor = keys.create("poor", daily_budget_usd=1e-12)
        r = httpx.post(
            f"{gw.url}/v1/chat/completions",
            json={"model": "auto:code-edit", "messages": [{"role": "user", "content": "x"}]},
            headers={"authorization": f"Bearer {poor}", "x-switchtower-tier": "realtime"},
        )
        assert r.status_code == 429, r.text
    keys.close()


def test_a_router_that_ignores_needs_still_gets_no_text_only_model(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    """The harness's plugin router hands over no candidates: the selector checks the
    needs the pipeline put on the signals."""
    config = gateway_config(fake_openai, fake_anthropic).model_copy(
        update={"selector": SelectorConfig(exploration=0.0)}
    )
    with LiveGateway(build_pipeline(config, None)) as gw:
        r = httpx.post(
            f"{gw.url}/v1/route",
            json={"messages": [{"role": "user", "content": [PICTURE]}]},
        )
        # the plugin router picked the local tier; the selector finds no model there that
        # takes images, and says so instead of sending the picture to fake-local
        assert r.status_code == 503, r.text
        assert "no model can serve the 'local' tier" in r.json()["error"]["message"]


def test_a_pdf_goes_to_a_model_that_reads_documents(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    source = {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}
    pdf = {"type": "document", "source": source}
    config = _routed(gateway_config(fake_openai, fake_anthropic))
    with LiveGateway(build_pipeline(config, None)) as gw:
        client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
        raw = client.messages.with_raw_response.create(
            model="auto",
            max_tokens=16,
            messages=[{"role": "user", "content": [{"type": "text", "text": "summarize"}, pdf]}],  # type: ignore[list-item]
        )
        assert raw.headers["x-switchtower-model"] == "fake-claude"
        assert fake_anthropic.requests[-1]["messages"][0]["content"][1] == pdf
        # the Responses wire's input_file too
        r = httpx.post(
            f"{gw.url}/v1/responses",
            json={"model": "auto", "input": [{"role": "user", "content": [
                {"type": "input_text", "text": "summarize"},
                {"type": "input_file", "filename": "a.pdf",
                 "file_data": "data:application/pdf;base64,JVBERi0="}]}]},
        )  # fmt: skip
        assert r.headers["x-switchtower-model"] == "fake-claude", r.text
        sent = fake_anthropic.requests[-1]["messages"][0]["content"][1]
        assert sent["source"]["data"] == "JVBERi0="
