"""A local model server that died: after its failures in a row the gateway routes around
it (real router and selector) instead of paying its failures on every request, says so
in the decision and in /metrics, and takes it back once it answers again."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from fakes.openai_upstream import FakeOpenAI
from server.harness import LiveGateway, build_pipeline, gateway_config
from switchtower.config.schema import (
    ComponentConfig,
    Config,
    RetryConfig,
    RouterConfig,
    SelectorConfig,
)
from switchtower.errors import UpstreamUnavailableError
from switchtower.server import KeyStore, MemoryLimiter


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: connections are refused


def _config(fake: FakeOpenAI, local_url: str, **retry: float) -> Config:
    config = gateway_config(fake)
    local = config.tiers["local"]
    model = local.models[0].model_copy(update={"base_url": local_url})
    tiers = {**config.tiers, "local": local.model_copy(update={"models": (model,)})}
    return config.model_copy(
        update={
            "tiers": tiers,
            "router": RouterConfig(policy=None),
            "selector": SelectorConfig(exploration=0.0),
            "signals": ComponentConfig(name="heuristic"),
            "retry": RetryConfig(max_attempts=1, base_delay_s=0.0, **retry),  # type: ignore[arg-type]
        }
    )


def _ask(gw: LiveGateway) -> httpx.Response:
    body = {"model": "auto", "messages": [{"role": "user", "content": "summarize: it rained"}]}
    return httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=30)


def test_a_dead_local_server_is_routed_around(fake_openai: FakeOpenAI) -> None:
    dead = f"http://127.0.0.1:{_dead_port()}/v1"
    with LiveGateway(build_pipeline(_config(fake_openai, dead), None)) as gw:
        plan = httpx.post(gw.url + "/v1/route", json={"prompt": "summarize: it rained"}).json()
        assert plan["model"] == "fake-local"  # healthy as far as anyone knows
        answered = [_ask(gw) for _ in range(3)]
        # each one tried the dead server, then fell back (the plan's fallbacks)
        assert all(r.status_code == 200 for r in answered), [r.text for r in answered]
        assert all(r.headers["x-switchtower-model"] != "fake-local" for r in answered)
        plan = httpx.post(gw.url + "/v1/route", json={"prompt": "summarize: it rained"}).json()
        assert plan["model"] != "fake-local"
        assert "circuit open: 3 failed requests in a row" in plan["explanation"]["tier"]
        metrics = httpx.get(gw.url + "/metrics").text
        assert 'switchtower_model_circuit_open{model="fake-local"} 1.0' in metrics
        assert _ask(gw).status_code == 200


def test_it_comes_back_after_the_cool_down(fake_openai: FakeOpenAI) -> None:
    config = _config(fake_openai, fake_openai.base_url, circuit_cooldown_s=0.2)
    with LiveGateway(build_pipeline(config, None)) as gw:
        fake_openai.fail(503, times=3, model="local-small")
        for _ in range(3):
            _ask(gw)
        plan = httpx.post(gw.url + "/v1/route", json={"prompt": "summarize: it rained"}).json()
        assert plan["model"] != "fake-local"
        gw.pipeline.executor.health._clock = lambda: 1e12  # the cool-down is over
        r = _ask(gw)
        assert r.headers["x-switchtower-model"] == "fake-local"  # the trial call answered
        assert gw.pipeline.executor.health.open_models() == {}


def test_a_client_whose_choice_is_out_hears_when_to_come_back(fake_openai: FakeOpenAI) -> None:
    """Named model, or hints that leave only the model that is out: a 503 with
    Retry-After (the outage's, not the client's fault), not a 502 or a 400."""
    dead = f"http://127.0.0.1:{_dead_port()}/v1"
    with LiveGateway(build_pipeline(_config(fake_openai, dead), None)) as gw:
        for _ in range(3):
            _ask(gw)
        url = gw.url + "/v1/chat/completions"
        hello = [{"role": "user", "content": "summarize: it rained"}]
        named = httpx.post(url, json={"model": "fake-local", "messages": hello})
        capped = httpx.post(
            url,
            json={"model": "auto", "messages": hello},
            headers={"x-switchtower-max-tier": "local"},
        )
        for r in (named, capped):
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "no_eligible_model"
            assert 1 <= int(r.headers["retry-after"]) <= 30
        assert "is out for now" in named.json()["error"]["message"]


def test_a_key_with_a_budget_hears_of_the_outage_not_its_budget(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Regression (review): the local model out and the budget too small for real-time
    was a 429 "budget spent" (retry at midnight) for what clears in seconds."""
    keys = KeyStore.open(f"sqlite:///{tmp_path / 'keys.db'}")
    _, secret = keys.create("frugal", daily_budget_usd=1e-12)
    dead = f"http://127.0.0.1:{_dead_port()}/v1"
    pipe = build_pipeline(_config(fake_openai, dead), None)
    local = pipe.model("fake-local")
    for _ in range(3):
        pipe.executor.health.record(local, UpstreamUnavailableError("connection refused"))
    with LiveGateway(pipe, keys=keys, limiter=MemoryLimiter()) as gw:
        r = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": "summarize: x"}]},
            headers={"authorization": f"Bearer {secret}"},
        )
        assert r.status_code == 503, r.text
        assert "retry-after" in r.headers
    keys.close()


def test_a_request_holding_only_a_pdf_is_not_empty(fake_openai: FakeOpenAI) -> None:
    config = _config(fake_openai, fake_openai.base_url)
    local = (
        config.tiers["local"].models[0].model_copy(update={"capabilities": ("tools", "documents")})
    )
    tiers = {**config.tiers, "local": config.tiers["local"].model_copy(update={"models": (local,)})}
    with LiveGateway(build_pipeline(config.model_copy(update={"tiers": tiers}), None)) as gw:
        pdf = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}
        r = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": [pdf]}]},
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-switchtower-model"] == "fake-local"
