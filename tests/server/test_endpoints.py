"""Route dry run, feedback, health, readiness, Prometheus metrics, and the trace writer."""

from __future__ import annotations

import httpx
import openai

from fakes.openai_upstream import FakeOpenAI
from server.harness import LiveGateway, build_pipeline, gateway_config
from switchtower.config.schema import ComponentConfig, RouterConfig, SelectorConfig
from switchtower.server.tracewriter import BackgroundTraceWriter
from switchtower.store.sql import SqlTraceStore
from switchtower.types import Trace


def test_route_is_a_dry_run(gateway: LiveGateway, fake_openai: FakeOpenAI) -> None:
    r = httpx.post(
        gateway.url + "/v1/route",
        json={"prompt": "please refactor the parser"},
        headers={"x-switchtower-deadline": "soon"},
    )
    assert r.status_code == 200
    decision = r.json()
    assert decision["operation"] == "code-edit"
    assert decision["tier"] == "realtime"
    assert decision["model"] == "fake-frontier-0"
    assert decision["deadline"] == "soon"
    assert set(decision["explanation"]) == {"operation", "signals", "tier", "model"}
    assert fake_openai.requests == []  # no model was called
    r = httpx.post(gateway.url + "/v1/route", json={"messages": [], "model": "auto"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "messages"


def test_feedback_is_stored_on_the_trace(gateway: LiveGateway, store: SqlTraceStore) -> None:
    c = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    raw = c.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "summarize"}]
    )
    trace_id = raw.headers["x-switchtower-trace-id"]
    r = httpx.post(
        gateway.url + "/v1/feedback",
        json={"trace_id": trace_id, "success": False, "score": 0.25, "comment": "wrong city"},
    )
    assert r.status_code == 200
    assert r.json() == {"trace_id": trace_id, "recorded": True}
    trace = store.get(trace_id)
    assert trace is not None
    assert trace.outcome is not None
    assert trace.outcome.success is False
    assert trace.outcome.score == 0.25
    assert trace.outcome.comment == "wrong city"
    missing = httpx.post(gateway.url + "/v1/feedback", json={"trace_id": "nope", "success": True})
    assert missing.status_code == 404
    bad = httpx.post(gateway.url + "/v1/feedback", json={"trace_id": trace_id, "score": 3})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "score"


def test_health_and_readiness(gateway: LiveGateway) -> None:
    assert httpx.get(gateway.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"models": True, "limiter": True}


def test_metrics_count_requests_tiers_spend_and_errors(gateway: LiveGateway) -> None:
    c = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    c.chat.completions.create(model="auto", messages=[{"role": "user", "content": "summarize"}])
    c.chat.completions.create(
        model="auto:code-edit", messages=[{"role": "user", "content": "fix it"}]
    )
    httpx.post(gateway.url + "/v1/chat/completions", json={"model": "auto"})
    text = httpx.get(gateway.url + "/metrics").text
    ok = 'method="POST",route="/v1/chat/completions",status="200"'
    assert f"switchtower_http_requests_total{{{ok}}} 2.0" in text
    assert 'switchtower_routed_requests_total{operation="summarize",tier="local"} 1.0' in text
    assert 'switchtower_routed_requests_total{operation="code-edit",tier="realtime"} 1.0' in text
    assert 'switchtower_spend_usd_total{model="fake-frontier-0",tier="realtime"}' in text
    assert 'switchtower_errors_total{kind="invalid_request"} 1.0' in text
    assert "switchtower_http_request_duration_seconds_bucket" in text
    assert "switchtower_trace_write_failures_total 0.0" in text


class _BrokenStore:
    def __init__(self) -> None:
        self.calls = 0

    def write(self, trace: Trace) -> None:
        self.calls += 1
        raise OSError("disk full")


def test_trace_writer_drains_on_close_and_counts_failures(store: SqlTraceStore) -> None:
    seen: list[str] = []
    writer = BackgroundTraceWriter(store, listeners=[lambda t: seen.append(t.id)])
    traces = [_trace(str(i)) for i in range(20)]
    for t in traces:
        writer.write(t)
    writer.close()
    assert seen == [t.id for t in traces]
    assert all(store.get(t.id) is not None for t in traces)
    broken = BackgroundTraceWriter(_BrokenStore())  # type: ignore[arg-type]
    broken.write(_trace("x"))
    broken.close()
    assert broken.write_failures == 1


def _trace(trace_id: str) -> Trace:
    return Trace(
        id=trace_id,
        created_at=1.0,
        request_digest="d",
        operation="summarize",
        confidence=1.0,
        tier="local",
        model="m",
        deadline="interactive",
        signals={},
        decision={},
    )


def test_value_hint_routes_by_the_value_rule(fake_openai: FakeOpenAI) -> None:
    """The real router and selector behind the gateway: a request saying a success is
    worth almost nothing stays on the free local model; the same request without it goes
    where the threshold rule sends it (a code edit: real-time)."""
    config = gateway_config(fake_openai)
    config = config.model_copy(
        update={
            "router": RouterConfig(),
            "selector": SelectorConfig(exploration=0.0),
            "signals": ComponentConfig(name="heuristic"),
        }
    )
    with LiveGateway(build_pipeline(config, None)) as gw:
        route = gw.url + "/v1/route"
        body = {"prompt": "please refactor the parser"}
        plain = httpx.post(route, json=body).json()
        assert (plain["tier"], plain["value_per_success_usd"]) == ("realtime", None)
        header = "x-switchtower-value-per-success-usd"
        cheap = httpx.post(route, json=body, headers={header: "0.000001"}).json()
        assert (cheap["tier"], cheap["value_per_success_usd"]) == ("local", 1e-06)
        assert "highest expected net value" in cheap["explanation"]["tier"]
        meta = {**body, "metadata": {"value_per_success_usd": 1e-06}}
        assert httpx.post(route, json=meta).json()["tier"] == "local"
        for bad in ("0", "-1", "lots"):
            r = httpx.post(route, json=body, headers={header: bad})
            assert r.status_code == 400
            assert r.json()["error"]["param"] == header
        r = httpx.post(route, json={**body, "metadata": {"value_per_success_usd": 0}})
        assert r.json()["error"]["param"] == "metadata.value_per_success_usd"
