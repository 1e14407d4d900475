"""Webhooks for jobs: a deferred request may name an allowed URL, which gets a signed
Standard Webhooks event when the job finishes. The official ``openai`` SDK's verifier
checks the signatures; deliveries are durable, retried with backoff, then given up."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import sqlalchemy as sa
from alembic import command
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

from fakes.openai_upstream import FakeOpenAI
from fakes.threaded import ThreadedServer
from server.harness import LiveGateway, build_pipeline, gateway_config
from switchtower.config.schema import WebhookConfig
from switchtower.errors import ConfigError, InvalidRequestError
from switchtower.pipeline import Pipeline
from switchtower.queue import JobStore, QueueWorker
from switchtower.queue.webhooks import WebhookSender, check_webhook, event, signature
from switchtower.store import SqlTraceStore, migrate, open_store
from switchtower.types import Decision, Request, Selection

QUEUED = "fake-queued"  # the harness's queued entry: it answers inline, as a job
SECRET = "whsec_" + base64.b64encode(b"switchtower webhook test secret!").decode()
ENV = "SWITCHTOWER_WEBHOOK_SECRET"
ALLOW = ("https://hooks.example.com/switchtower/", "http://127.0.0.1:8123/in")


def on_queued(pipe: Pipeline, text: str) -> Decision:
    """A deferred plan for ``text`` on the queued entry."""
    decision = pipe.plan(Request.from_text(text, deadline="soon", accept_deferred=True))
    selection = Selection(model=QUEUED, tier="async", estimate=0.9, fallbacks=("fake-frontier-0",))
    return replace(decision, selection=selection)


def verify(body: bytes, headers: dict[str, str], secret: str = SECRET) -> None:
    """What a receiver does: the official SDK's Standard Webhooks check."""
    openai.OpenAI(api_key="unused").webhooks.verify_signature(body, headers, secret=secret)


# -- which URLs a request may name ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/switchtower/",
        "https://hooks.example.com/switchtower/job-done?team=7",
        "https://HOOKS.example.com:443/switchtower/a/b",
        "http://127.0.0.1:8123/in",
        "http://127.0.0.1:8123/in/sub",
    ],
)
def test_a_url_under_an_allowed_prefix_is_taken(url: str) -> None:
    assert check_webhook(url, ALLOW, "x-switchtower-webhook") == url


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/switchtower/",  # another scheme
        "https://hooks.example.com:8443/switchtower/",  # another port
        "https://hooks.example.com.evil.example/switchtower/",  # a host that only starts alike
        "https://hooks.example.com@evil.example/switchtower/",  # user info: host is evil
        "https://hooks.example.com/switchtowerx",  # a path that only starts alike
        "https://hooks.example.com/switchtower/../admin",
        "https://hooks.example.com/switchtower/%2e%2e/admin",
        "http://127.0.0.1:8123/inside",
        "http://127.0.0.1:8124/in",
        "file:///etc/passwd",
        "not a url",
        "https://hooks.example.com/switchtower/a\tb",  # urlsplit drops it; the client refuses
        "https://hooks.example.com/switchtower/a b",
        "https://hooks.example.com/switchtower/..;/admin",  # a path parameter on a dot segment
        "https://hooks.example.com/switchtower/a\\..\\..\\admin",
        "https://hooks.example.com/switchtower/%5c..%5cadmin",
        "https://hooks.example.com/switchtower/%252e%252e/admin",  # double encoding
    ],
)
def test_any_other_url_is_a_400_naming_the_hint_and_not_the_allowed_list(url: str) -> None:
    with pytest.raises(InvalidRequestError) as err:
        check_webhook(url, ALLOW, "metadata.webhook")
    assert err.value.field == "metadata.webhook"
    shown = str(err.value).replace(repr(url), "").replace(url, "")  # the URL it names
    assert "hooks.example.com/switchtower" not in shown


def test_with_no_allowed_prefix_webhooks_are_off() -> None:
    with pytest.raises(InvalidRequestError, match="sends no webhooks"):
        check_webhook("https://hooks.example.com/switchtower/", (), "x-switchtower-webhook")


# -- the signature ------------------------------------------------------------------------


def test_the_signature_verifies_with_the_openai_sdk_and_breaks_with_any_change() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    body = b'{"id":"evt_1","type":"job.completed"}'
    now = int(time.time())
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(now),
        "webhook-signature": signature(key, "evt_1", now, body),
    }
    verify(body, headers)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        verify(body.replace(b"completed", b"failed"), headers)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        verify(body, {**headers, "webhook-id": "evt_2"})
    with pytest.raises(openai.InvalidWebhookSignatureError):
        verify(body, headers, secret="whsec_" + base64.b64encode(b"another secret").decode())


def test_webhooks_on_without_a_secret_stop_the_worker_at_start() -> None:
    config = WebhookConfig(allow=ALLOW)
    with pytest.raises(ConfigError, match=ENV):
        WebhookSender(config, environ={})
    with pytest.raises(ConfigError, match="not base64"):
        WebhookSender(config, environ={ENV: "whsec_***"})
    WebhookSender(WebhookConfig(), environ={})  # off: no secret needed


# -- delivery by the worker ---------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook endpoint on loopback: records every delivery, answers ``statuses`` in
    turn (then 200)."""

    statuses: list[int] = field(default_factory=list)
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = ThreadedServer(
            Starlette(routes=[Route("/{rest:path}", self.hook, methods=["POST"])]),
            name="webhook receiver",
        )

    @property
    def prefix(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/hooks/"

    async def hook(self, request: HttpRequest) -> Response:
        self.got.append((dict(request.headers), await request.body()))
        status = self.statuses.pop(0) if self.statuses else 200
        # a redirect points at a path the operator never allowed: it must not be followed
        return Response(status_code=status, headers={"location": "/hooks-moved/here"})

    def events(self) -> list[dict[str, Any]]:
        for headers, body in self.got:
            verify(body, headers)
        return [json.loads(body) for _, body in self.got]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.server.start()
    yield r
    r.server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def hooked_pipeline(
    fake: FakeOpenAI, traces: SqlTraceStore, jobs: JobStore, receiver: Receiver, **hooks: Any
) -> Pipeline:
    queue = {"linger_s": 0.0, "poll_s": 0.01, "rescue_margin_s": 0.0}
    queue["webhooks"] = {"allow": [receiver.prefix], **hooks}
    return build_pipeline(gateway_config(fake, None, batch=True, queue=queue), traces, jobs)


async def test_a_finished_job_is_announced_once_signed_without_its_answer(
    fake_openai: FakeOpenAI,
    traces: SqlTraceStore,
    url: str,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV, SECRET)
    jobs = JobStore.open(url)
    pipe = hooked_pipeline(fake_openai, traces, jobs, receiver)
    job = pipe.submit(on_queued(pipe, "summarize the notes"), webhook_url=receiver.prefix + "a")
    worker = QueueWorker(pipe, jobs)
    notified = (await worker.tick()).notified  # runs the queued job (maybe notifies too)
    await worker.drain()
    notified += (await worker.tick()).notified
    assert notified == 1
    assert (await worker.tick()).notified == 0  # once

    [sent] = receiver.events()
    assert (sent["id"], sent["object"], sent["type"]) == (f"evt_{job.id}", "event", "job.completed")
    data = sent["data"]
    assert (data["id"], data["status"], data["model"]) == (job.id, "completed", QUEUED)
    assert data["url"] == f"/v1/jobs/{job.id}"
    assert "response" not in data
    assert "webhook" not in data
    assert "echo: summarize the notes" not in receiver.got[0][1].decode()
    stored = jobs.get(job.id)
    assert stored is not None
    assert (stored.notify_state, stored.notify_attempts, stored.notify_error) == (
        "delivered",
        1,
        None,
    )
    assert stored.to_json()["webhook"]["state"] == "delivered"
    await worker.webhooks.aclose()
    await pipe.aclose()


async def test_failed_deliveries_back_off_keep_their_id_then_give_up(
    fake_openai: FakeOpenAI,
    traces: SqlTraceStore,
    url: str,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    jobs = JobStore(JobStore.open(url).engine, clock=clock)
    pipe = hooked_pipeline(fake_openai, traces, jobs, receiver, max_attempts=3)
    sender = WebhookSender(pipe.config.queue.webhooks, environ={ENV: SECRET})
    worker = QueueWorker(pipe, jobs, clock=clock, webhooks=sender)
    job = pipe.submit(on_queued(pipe, "summarize the notes"), webhook_url=receiver.prefix)
    assert jobs.finish(job.id, job.trace, error_kind="upstream", error_message="down")
    receiver.statuses = [503, 307, 404]
    assert (await worker.tick()).notify_failed == 1  # attempt 1
    assert (await worker.tick()).notify_failed == 0  # not before 5 s
    clock.now += 5.0
    assert (await worker.tick()).notify_failed == 1  # attempt 2
    clock.now += 19.0
    assert (await worker.tick()).notify_failed == 0  # the next waits 20 s
    pending = jobs.get(job.id)
    assert pending is not None
    assert (pending.notify_state, pending.notify_attempts) == ("pending", 2)
    clock.now += 1.0
    assert (await worker.tick()).notify_failed == 1  # attempt 3, the last
    clock.now += 3600.0
    assert (await worker.tick()).notify_failed == 0

    given_up = jobs.get(job.id)
    assert given_up is not None
    assert (given_up.notify_state, given_up.notify_attempts, given_up.notify_error) == (
        "gave_up",
        3,
        "HTTP 404",
    )
    assert len({h["webhook-id"] for h, _ in receiver.got}) == 1  # 307 not followed: 3 calls
    assert len(receiver.events()) == 3  # each attempt signed anew (its own timestamp)
    await sender.aclose()
    await pipe.aclose()


async def test_an_unreachable_webhook_is_tried_again_and_a_url_no_longer_allowed_is_not(
    fake_openai: FakeOpenAI,
    traces: SqlTraceStore,
    url: str,
    receiver: Receiver,
) -> None:
    clock = Clock()
    jobs = JobStore(JobStore.open(url).engine, clock=clock)
    pipe = hooked_pipeline(fake_openai, traces, jobs, receiver, timeout_s=2.0)
    sender = WebhookSender(pipe.config.queue.webhooks, environ={ENV: SECRET})
    worker = QueueWorker(pipe, jobs, clock=clock, webhooks=sender)
    receiver.server.stop()  # nobody listens there now
    job = pipe.submit(on_queued(pipe, "summarize"), webhook_url=receiver.prefix + "x")
    assert jobs.finish(job.id, job.trace, error_kind="upstream", error_message="down")
    assert (await worker.tick()).notify_failed == 1
    waiting = jobs.get(job.id)
    assert waiting is not None
    assert waiting.notify_state == "pending"
    assert "Connect" in str(waiting.notify_error)

    # the operator takes the prefix off the list: the event is dropped, not sent
    off = WebhookSender(WebhookConfig(), environ={})
    worker = QueueWorker(pipe, jobs, clock=clock, webhooks=off)
    clock.now += 5.0
    assert (await worker.tick()).notify_failed == 1
    dropped = jobs.get(job.id)
    assert dropped is not None
    assert dropped.notify_state == "gave_up"
    assert "no longer allowed" in str(dropped.notify_error)
    await sender.aclose()
    await pipe.aclose()


async def test_a_receiver_that_trickles_or_a_refused_url_never_holds_the_worker(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    """A delivery is bounded as a whole (not per read); one that cannot be sent is given
    up, and the other events of the same pass are still recorded."""

    async def trickle(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(40):  # one byte every 0.25 s: each read is quick, the whole is not
            await send({"type": "http.response.body", "body": b".", "more_body": True})
            await asyncio.sleep(0.25)
        await send({"type": "http.response.body", "body": b""})

    slow = ThreadedServer(trickle, name="trickling receiver")
    slow.start()
    try:
        prefix = f"http://127.0.0.1:{slow.port}/hooks/"
        receiver = Receiver()
        receiver.server.start()
        clock = Clock()
        jobs = JobStore(JobStore.open(url).engine, clock=clock)
        queue = {"linger_s": 0.0, "poll_s": 0.01, "rescue_margin_s": 0.0}
        queue["webhooks"] = {"allow": [prefix, receiver.prefix], "timeout_s": 1.0}
        config = gateway_config(fake_openai, None, batch=True, queue=queue)
        pipe = build_pipeline(config, traces, jobs)
        sender = WebhookSender(pipe.config.queue.webhooks, environ={ENV: SECRET})
        worker = QueueWorker(pipe, jobs, clock=clock, webhooks=sender)
        held = pipe.submit(on_queued(pipe, "summarize"), webhook_url=prefix + "a")
        good = pipe.submit(on_queued(pipe, "summarize"), webhook_url=receiver.prefix + "b")
        for job in (held, good):
            assert jobs.finish(job.id, job.trace, error_kind="upstream", error_message="down")
        started = time.monotonic()
        report = await worker.tick()
        assert time.monotonic() - started < 5.0  # not the 10 s the receiver would take
        assert (report.notified, report.notify_failed) == (1, 1)
        slowed = jobs.get(held.id)
        assert slowed is not None
        assert (slowed.notify_state, slowed.notify_error) == ("pending", "no answer within 1 s")
        await sender.aclose()
        await pipe.aclose()
        receiver.server.stop()
    finally:
        slow.stop()


def test_a_failed_jobs_error_names_no_internal_address(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    """A job's error goes to the client and to its webhook: upstream URLs stay in the
    trace."""
    jobs = JobStore.open(url)
    receiver = Receiver()  # not started: only its URL matters here
    pipe = hooked_pipeline(fake_openai, traces, jobs, receiver)
    job = pipe.submit(on_queued(pipe, "summarize"), webhook_url=receiver.prefix)
    why = "all models failed (tried m): m: cannot connect to http://10.0.0.5:8000/v1: refused"
    assert jobs.finish(job.id, job.trace, error_kind="all_models_failed", error_message=why)
    failed = jobs.get(job.id)
    assert failed is not None
    assert failed.error_message == why  # kept whole for the operator
    shown = failed.to_json()["error"]["message"]
    assert shown == "all models failed (tried m): m: cannot connect to <upstream>: refused"
    assert b"10.0.0.5" not in event(failed)[1]
    jobs.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_due_event_is_committed_with_the_answer_and_survives_a_restart(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    db = (
        f"sqlite:///{tmp_path / 'jobs.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    traces = open_store(db, spool_dir=tmp_path)
    jobs = JobStore.open(db)
    fake = request.getfixturevalue("fake_openai")
    receiver = Receiver()  # not started: only its URL matters here
    pipe = hooked_pipeline(fake, traces, jobs, receiver)
    job = pipe.submit(on_queued(pipe, "summarize"), webhook_url=receiver.prefix)
    plain = pipe.submit(on_queued(pipe, "summarize again"))
    assert jobs.claim_notifications(limit=10, lease_s=60.0) == []  # nothing finished yet
    for j in (job, plain):
        assert jobs.finish(j.id, j.trace, error_kind="upstream", error_message="down")
    jobs.close()

    reopened = JobStore.open(db)  # a new process after a crash
    [due] = reopened.claim_notifications(limit=10, lease_s=60.0)
    assert (due.id, due.status, due.notify_state) == (job.id, "failed", "pending")
    assert reopened.claim_notifications(limit=10, lease_s=60.0) == []  # leased meanwhile
    assert event(due)[1].startswith(b'{"id":"evt_')
    none = reopened.get(plain.id)
    assert none is not None
    assert (none.webhook_url, none.notify_state) == (None, None)
    reopened.close()
    traces.close()


def test_a_database_from_before_webhooks_keeps_its_jobs(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'old.db'}"
    engine = migrate.create_engine(db)
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    row = {
        "id": "job-1", "created_at": "2026-11-01 00:00:00", "updated_at": "2026-11-01 00:00:00",
        "deadline_at": "2026-11-02 00:00:00", "status": "queued", "model": QUEUED,
        "fmt": "openai", "request": json.dumps({"id": "job-1", "received_at": 1.0,
        "messages": [{"role": "user", "content": "hi"}]}), "fallbacks": "[]",
        "trace": "{}",
    }  # fmt: skip
    with engine.begin() as conn:
        columns = ", ".join(row)
        values = ", ".join(f":{k}" for k in row)
        conn.execute(sa.text(f"INSERT INTO jobs ({columns}) VALUES ({values})"), row)
    migrate.upgrade(engine)
    engine.dispose()
    jobs = JobStore.open(db)
    with jobs.engine.connect() as conn:
        old = conn.execute(sa.text("SELECT id, notify_attempts, webhook_url FROM jobs")).all()
    assert [tuple(r) for r in old] == [("job-1", 0, None)]
    jobs.close()


# -- through the gateway --------------------------------------------------------------------


@pytest.fixture
def gateway(
    fake_openai: FakeOpenAI,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LiveGateway]:
    monkeypatch.setenv(ENV, SECRET)
    db = f"sqlite:///{tmp_path / 'st.db'}"
    traces = open_store(db, spool_dir=tmp_path)
    with LiveGateway(hooked_pipeline(fake_openai, traces, JobStore.open(db), receiver)) as gw:
        yield gw
    traces.close()


def test_the_gateway_announces_a_job_to_the_webhook_its_request_named(
    gateway: LiveGateway, receiver: Receiver
) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    hints = {"x-switchtower-async": "true", "x-switchtower-deadline": "batch"}
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "summarize the incident report"}],
        extra_headers={**hints, "x-switchtower-tier": "async"},
        metadata={"webhook": receiver.prefix + "incident"},
    )
    assert raw.status_code == 202
    job = raw.http_response.json()
    assert job["webhook"] == {
        "url": receiver.prefix + "incident",
        "state": "waiting",
        "attempts": 0,
        "error": None,
    }
    deadline = time.monotonic() + 15.0
    while not receiver.got and time.monotonic() < deadline:
        time.sleep(0.05)
    [sent] = receiver.events()
    assert (sent["type"], sent["data"]["id"]) == ("job.completed", job["id"])
    done = httpx.get(f"{gateway.url}/v1/jobs/{job['id']}").json()
    assert done["response"]["object"] == "chat.completion"
    deadline = time.monotonic() + 5.0
    while done["webhook"]["state"] != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
        done = httpx.get(f"{gateway.url}/v1/jobs/{job['id']}").json()
    assert done["webhook"]["state"] == "delivered"


@pytest.mark.parametrize(
    ("headers", "where"),
    [
        ({"x-switchtower-webhook": "{prefix}x"}, "x-switchtower-webhook"),  # no async hint
        (
            {"x-switchtower-async": "true", "x-switchtower-webhook": "http://127.0.0.1:9/x"},
            "x-switchtower-webhook",
        ),
    ],
)
def test_the_gateway_refuses_a_webhook_it_cannot_take(
    gateway: LiveGateway, receiver: Receiver, headers: dict[str, str], where: str
) -> None:
    sent = {k: v.format(prefix=receiver.prefix) for k, v in headers.items()}
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers=sent,
        json={"model": "auto", "messages": [{"role": "user", "content": "summarize"}]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == where
    assert receiver.got == []
