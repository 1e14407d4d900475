"""API keys (hashed, revocable), per-key rate limits and daily budgets: 401 / 403 / 429
in the OpenAI format with Retry-After; Redis-backed limits shared by two gateways."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import psycopg
import pytest
import redis

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from server.harness import LiveGateway, build_pipeline, gateway_config
from switchtower.server import KeyStore, Limiter, MemoryLimiter, RedisLimiter, SqlLimiter
from switchtower.server.budgets import seconds_until_utc_midnight
from switchtower.server.keys import KEY_PREFIX, hash_key
from switchtower.store.sql import SqlTraceStore

REDIS_URL = "redis://127.0.0.1:6379/0"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[KeyStore]:
    ks = KeyStore.open(f"sqlite:///{tmp_path / 'traces.db'}")
    yield ks
    ks.close()


def test_keys_are_stored_hashed_and_revocable(keys: KeyStore) -> None:
    key, secret = keys.create("ci", daily_budget_usd=2.5, rpm=10)
    assert secret.startswith(KEY_PREFIX)
    assert len(secret) > 40
    with keys.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT * FROM switchtower_api_keys").all()
    flat = repr(stored)
    assert secret not in flat
    assert hash_key(secret) in flat
    assert keys.lookup(secret) == key
    assert keys.lookup(secret + "x") is None
    assert keys.list() == [key]
    assert keys.revoke(key.id)
    assert not keys.revoke(key.id)
    looked = keys.lookup(secret)
    assert looked is not None
    assert not looked.active
    assert keys.any_issued()


@pytest.fixture
def keyed(
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    store: SqlTraceStore,
    keys: KeyStore,
    tmp_path: Path,
) -> Iterator[LiveGateway]:
    config = gateway_config(fake_openai, fake_anthropic, db=tmp_path / "traces.db")
    with LiveGateway(build_pipeline(config, store), keys=keys, limiter=MemoryLimiter()) as gw:
        yield gw


def test_auth_401_403_and_both_sdk_headers(keyed: LiveGateway, keys: KeyStore) -> None:
    key, secret = keys.create("agent")
    r = httpx.post(keyed.url + "/v1/chat/completions", json={"model": "auto", "messages": HELLO})
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=keyed.url + "/v1", api_key="st-wrong", max_retries=0).models.list()
    ok = openai.OpenAI(base_url=keyed.url + "/v1", api_key=secret, max_retries=0)
    assert ok.chat.completions.create(model="auto", messages=HELLO).choices  # type: ignore[arg-type]
    claude = anthropic.Anthropic(base_url=keyed.url, api_key=secret, max_retries=0)
    assert claude.messages.create(model="auto", max_tokens=8, messages=HELLO).content  # type: ignore[arg-type]
    # health, readiness and metrics need no key
    assert httpx.get(keyed.url + "/healthz").status_code == 200
    assert httpx.get(keyed.url + "/metrics").status_code == 200
    keys.revoke(key.id)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        ok.chat.completions.create(model="auto", messages=HELLO)  # type: ignore[arg-type]
    assert denied.value.body["code"] == "key_revoked"  # type: ignore[index]


def test_rate_limit_429_with_retry_after(keyed: LiveGateway, keys: KeyStore) -> None:
    _, secret = keys.create("bursty", rpm=2)
    headers = {"authorization": f"Bearer {secret}"}
    body = {"model": "auto", "messages": HELLO}
    url = keyed.url + "/v1/chat/completions"
    assert [httpx.post(url, json=body, headers=headers).status_code for _ in range(2)] == [200] * 2
    refused = httpx.post(url, json=body, headers=headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_daily_budget_429_until_midnight(
    keyed: LiveGateway, keys: KeyStore, store: SqlTraceStore
) -> None:
    _, secret = keys.create("thrifty", daily_budget_usd=1e-9)
    c = openai.OpenAI(base_url=keyed.url + "/v1", api_key=secret, max_retries=0)
    # the first request is admitted (nothing spent yet) and is charged its real cost
    raw = c.chat.completions.with_raw_response.create(model="fake-frontier-0", messages=HELLO)  # type: ignore[arg-type]
    assert float(raw.headers["x-switchtower-cost-usd"]) > 1e-9
    with pytest.raises(openai.RateLimitError) as limited:
        c.chat.completions.create(model="auto", messages=HELLO)  # type: ignore[arg-type]
    assert limited.value.body["code"] == "budget_exceeded"  # type: ignore[index]
    wait = int(limited.value.response.headers["retry-after"])
    assert 0 < wait <= 86_400


def test_a_request_refused_for_its_budget_does_not_use_up_the_rate_limit(
    keyed: LiveGateway, keys: KeyStore
) -> None:
    _, secret = keys.create("both", rpm=2, daily_budget_usd=1e-9)
    headers = {"authorization": f"Bearer {secret}"}
    url = keyed.url + "/v1/chat/completions"
    spend = httpx.post(url, json={"model": "fake-frontier-0", "messages": HELLO}, headers=headers)
    assert spend.status_code == 200  # 1 of 2 requests this minute; the budget is now spent
    codes = [
        httpx.post(url, json={"model": "auto", "messages": HELLO}, headers=headers).json()["error"][
            "code"
        ]
        for _ in range(3)
    ]
    assert codes == ["budget_exceeded"] * 3  # never rate_limited: refusals are not counted


def test_routed_traces_carry_the_key_id(
    keyed: LiveGateway, keys: KeyStore, store: SqlTraceStore
) -> None:
    key, secret = keys.create("traced")
    c = openai.OpenAI(base_url=keyed.url + "/v1", api_key=secret, max_retries=0)
    raw = c.chat.completions.with_raw_response.create(model="auto", messages=HELLO)  # type: ignore[arg-type]
    keyed.app.gateway.writer.flush()
    trace = store.get(raw.headers["x-switchtower-trace-id"])
    assert trace is not None
    assert trace.api_key_id == key.id


def test_seconds_until_midnight() -> None:
    assert seconds_until_utc_midnight(86_400 * 3 + 3600) == 86_400 - 3600


# -- Redis: limits hold across replicas ---------------------------------------------------


def _redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    return client


def _two_gateways_share_limits(
    fake_openai: FakeOpenAI,
    store: SqlTraceStore,
    keys: KeyStore,
    tmp_path: Path,
    limiters: tuple[Limiter, Limiter],
) -> float:
    """Requests alternate between two gateways whose limiters share one backing store:
    the key's rpm of 3 holds across both. Returns the USD charged."""
    config = gateway_config(fake_openai, db=tmp_path / "traces.db")
    _, secret = keys.create("shared", rpm=3, daily_budget_usd=100.0)
    headers = {"authorization": f"Bearer {secret}"}
    body = {"model": "fake-frontier-0", "messages": HELLO}
    with (
        LiveGateway(build_pipeline(config, store), keys=keys, limiter=limiters[0]) as a,
        LiveGateway(build_pipeline(config, store), keys=keys, limiter=limiters[1]) as b,
    ):
        codes = [
            httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers)
            for gw in (a, b, a, b)
        ]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert codes[-1].headers["retry-after"]
    return sum(float(r.headers["x-switchtower-cost-usd"]) for r in codes[:3])


@pytest.mark.redis
def test_two_gateways_share_rate_limit_and_budget_in_redis(
    fake_openai: FakeOpenAI, store: SqlTraceStore, keys: KeyStore, tmp_path: Path
) -> None:
    sync = _redis_or_skip()
    prefix = f"switchtower-test:{uuid.uuid4().hex}:"
    try:
        charged = _two_gateways_share_limits(
            fake_openai,
            store,
            keys,
            tmp_path,
            (RedisLimiter(REDIS_URL, prefix=prefix), RedisLimiter(REDIS_URL, prefix=prefix)),
        )
        spend_keys = list(sync.scan_iter(match=f"{prefix}spend:*"))
        assert len(spend_keys) == 1
        assert float(sync.get(spend_keys[0])) == pytest.approx(charged)  # type: ignore[arg-type]
    finally:
        for k in sync.scan_iter(match=f"{prefix}*"):
            sync.delete(k)
        sync.close()


@pytest.mark.postgres
def test_two_gateways_share_rate_limit_and_budget_in_postgres(
    fake_openai: FakeOpenAI, store: SqlTraceStore, keys: KeyStore, tmp_path: Path, pg_url: str
) -> None:
    charged = _two_gateways_share_limits(
        fake_openai, store, keys, tmp_path, (SqlLimiter.open(pg_url), SqlLimiter.open(pg_url))
    )
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT usd FROM switchtower_spend").fetchall()
    assert len(rows) == 1
    assert rows[0][0] == pytest.approx(charged)
