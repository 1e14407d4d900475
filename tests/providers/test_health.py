"""Model health (``health.py``): a model failing retryable calls in a row is taken out
for a cool-down that doubles while it keeps failing; routing and the executor go around
it; a success brings it back. Calls go through the real openai provider to the fake
upstream."""

from __future__ import annotations

import dataclasses

import pytest

from fakes.models import info, openai_spec
from fakes.openai_upstream import FakeOpenAI
from switchtower.config.schema import ModelConfig, RetryConfig
from switchtower.errors import (
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamServerError,
    UpstreamUnavailableError,
)
from switchtower.execute import Executor
from switchtower.health import HealthBook
from switchtower.protocols import ModelInfo, TierInfo
from switchtower.providers import OpenAIProvider
from switchtower.types import Request


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def book(clock: Clock, **retry: float) -> HealthBook:
    return HealthBook(RetryConfig(**retry), clock=clock)  # type: ignore[arg-type]


def down() -> UpstreamUnavailableError:
    return UpstreamUnavailableError("local: connection refused")


def entry(
    name: str = "local", *, base_url: str = "http://127.0.0.1:1/v1", **kw: object
) -> ModelInfo:
    spec = ModelConfig(name=name, provider="openai", model="small", base_url=base_url)
    values: dict[str, object] = {"tier": "local", "context_window": 8192}
    values.update(kw)
    return ModelInfo(
        name=name, provider="openai", model_id="small", input_per_mtok=0.0,
        output_per_mtok=0.0, spec=spec, **values,  # type: ignore[arg-type]
    )  # fmt: skip


LOCAL = entry()


def test_opens_after_failed_requests_in_a_row_and_says_why() -> None:
    health = book(Clock())
    for _ in range(2):
        health.record(LOCAL, down())
    assert health.open_reason(LOCAL) is None
    health.record(LOCAL, down())
    reason = health.open_reason(LOCAL)
    assert reason is not None
    assert "3 failed requests in a row" in reason
    assert "upstream_unavailable" in reason
    assert health.open_models() == {"local": reason}
    assert health.open_reason(entry("other", base_url="http://127.0.0.1:2/v1")) is None


def test_a_server_is_one_circuit_whatever_its_entries() -> None:
    """A local model and its queued twin (same server and model) share one health."""
    health = book(Clock())
    twin = entry("local-queued", tier="async", max_delay_s=60.0)
    for _ in range(3):
        health.record(LOCAL, down())
    assert health.open_reason(twin) is not None
    health.record(twin, None)  # a success through either brings both back
    assert health.open_reason(LOCAL) is None


def test_a_success_in_between_starts_the_count_again() -> None:
    health = book(Clock())
    health.record(LOCAL, down())
    health.record(LOCAL, down())
    health.record(LOCAL, None)
    health.record(LOCAL, down())
    health.record(LOCAL, down())
    assert health.open_reason(LOCAL) is None


def test_rejections_are_the_requests_fault_not_the_models() -> None:
    health = book(Clock())
    for _ in range(5):
        health.record(LOCAL, UpstreamRejectedError("m: 400 bad request", status=400))
        health.record(LOCAL, ValueError("a bug of ours"))
    assert health.open_reason(LOCAL) is None
    for _ in range(3):
        health.record(LOCAL, UpstreamServerError("m: 503", status=503))
    assert health.open_reason(LOCAL) is not None


def _out_for(health: HealthBook, clock: Clock) -> float:
    start = clock.now
    while health.open_reason(LOCAL) is not None:
        clock.now += 1.0
    return clock.now - start


def test_the_cool_down_doubles_while_it_keeps_failing_up_to_the_cap() -> None:
    clock = Clock()
    health = book(clock, circuit_cooldown_s=30.0, circuit_max_cooldown_s=100.0)
    waits = []
    for round_ in range(4):
        # three to open it; after a cool-down one failed trial opens it again at once,
        # and failures of calls still in flight while it is out change nothing
        for _ in range(3 if round_ == 0 else 1):
            health.begin(LOCAL)
            health.record(LOCAL, down())
        health.record(LOCAL, down())
        waits.append(_out_for(health, clock))
    assert waits == [30.0, 60.0, 100.0, 100.0]
    health.record(LOCAL, None)  # a success closes it and forgets the history
    for _ in range(3):
        health.record(LOCAL, down())
    assert _out_for(health, clock) == 30.0


def test_a_long_outage_stays_at_the_cap() -> None:
    """Regression (audit): the doubling overflowed a float after ~1,000 openings (85 h at
    the defaults), and every request then failed with a 500."""
    clock = Clock()
    health = book(clock)
    for _ in range(3):
        health.record(LOCAL, down())
    for _ in range(1500):
        clock.now += 301.0
        health.begin(LOCAL)
        health.record(LOCAL, down())
    assert _out_for(health, clock) == 300.0


def test_one_trial_at_a_time_after_the_cool_down() -> None:
    clock = Clock()
    health = book(clock)
    for _ in range(3):
        health.record(LOCAL, down())
    clock.now += 31.0
    assert health.open_reason(LOCAL) is None  # half-open: may be tried
    health.begin(LOCAL)  # the trial call starts
    reason = health.open_reason(LOCAL)
    assert reason is not None
    assert "a trial call is in flight" in reason  # the others go around it
    health.record(LOCAL, down())
    assert "out for another" in (health.open_reason(LOCAL) or "")
    clock.now += 61.0
    health.begin(LOCAL)
    health.release(LOCAL)  # the trial's caller went away: the next call may try
    assert health.open_reason(LOCAL) is None
    health.begin(LOCAL)
    health.record(LOCAL, None)
    assert health.open_reason(LOCAL) is None
    assert health.open_models() == {}


def test_retry_after_counts_but_never_past_the_cap() -> None:
    clock = Clock()
    health = book(clock, circuit_max_cooldown_s=300.0)
    for _ in range(3):
        health.record(LOCAL, UpstreamRateLimitError("m: 429", status=429, retry_after=120.0))
    assert _out_for(health, clock) == 120.0
    health.record(LOCAL, None)
    for _ in range(3):
        health.record(LOCAL, UpstreamRateLimitError("m: 429", status=429, retry_after=3600.0))
    assert _out_for(health, clock) == 300.0


def test_zero_failures_means_never() -> None:
    health = book(Clock(), circuit_failures=0)
    for _ in range(10):
        health.record(LOCAL, down())
    assert health.open_reason(LOCAL) is None


def test_the_routing_view_marks_models_that_are_out() -> None:
    health = book(Clock())
    big = entry("big", tier="realtime", base_url="https://api.example.test/v1")
    tiers = {"local": TierInfo("local", (LOCAL,)), "realtime": TierInfo("realtime", (big,))}
    assert health.view(tiers) is tiers  # nothing out: the same object, no copy
    for _ in range(3):
        health.record(LOCAL, down())
    view = health.view(tiers)
    (out,) = view["local"].models
    assert not out.available
    assert out.unavailable_reason is not None
    assert out.unavailable_reason.startswith("circuit open: 3 failed requests in a row")
    assert view["realtime"].models == (big,)
    assert tiers["local"].models == (LOCAL,)  # the configured tiers are untouched


@pytest.fixture
async def provider():
    p = OpenAIProvider()
    yield p
    await p.aclose()


async def _no_sleep(_: float) -> None:
    return None


async def test_the_executor_stops_calling_a_failing_model(
    provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    executor = Executor({"openai": provider}, RetryConfig(max_attempts=3), sleep=_no_sleep)
    models = [
        info(openai_spec(fake_openai, name="primary")),
        info(openai_spec(fake_openai, name="backup")),
    ]
    fake_openai.fail(500, times=20, model="primary")
    first = await executor.execute(Request.from_text("hi"), models)
    assert first.model == "backup"
    assert [a.model for a in first.attempts] == ["primary"] * 3 + ["backup"]
    # one request's retries count once: one client cannot take a model out for everyone
    assert executor.health.open_reason(models[0]) is None
    for _ in range(2):
        await executor.execute(Request.from_text("hi"), models)
    calls = len(fake_openai.requests)
    later = await executor.execute(Request.from_text("hi"), models)
    assert [a.model for a in later.attempts] == ["backup"]  # primary skipped, not called
    assert len(fake_openai.requests) == calls + 1
    # a stream goes around it too
    stream = executor.stream(Request.from_text("hi"), models)
    async with stream:
        chunks = [c async for c in stream]
    assert chunks
    assert [a.model for a in stream.attempts] == ["backup"]


async def test_a_trial_is_one_call_however_many_attempts_are_allowed(
    provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    executor = Executor({"openai": provider}, RetryConfig(max_attempts=6), sleep=_no_sleep)
    primary = info(openai_spec(fake_openai, name="primary"))
    backup = info(openai_spec(fake_openai, name="backup"))
    for _ in range(3):  # other requests took it out meanwhile
        executor.health.record(primary, down())
    next(iter(executor.health._circuits.values())).until = 0.5  # cool-down over: a trial
    fake_openai.fail(500, times=20, model="primary")
    done = await executor.execute(Request.from_text("hi"), [primary, backup])
    # the trial is one call, not six: it failed, the model is out again
    assert [a.model for a in done.attempts] == ["primary", "backup"]
    assert executor.health.open_reason(primary) is not None


async def test_a_model_taken_out_while_a_request_waits_to_retry_is_left(
    provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    """Regression (review): the check ran before the backoff, so a request that woke up
    after others had taken the model out called the dead server once more."""
    primary = info(openai_spec(fake_openai, name="primary"))
    backup = info(openai_spec(fake_openai, name="backup"))

    async def others_take_it_out(_: float) -> None:
        for _ in range(3):
            executor.health.record(primary, down())

    executor = Executor({"openai": provider}, RetryConfig(max_attempts=3), sleep=others_take_it_out)
    fake_openai.fail(500, times=20, model="primary")
    done = await executor.execute(Request.from_text("hi"), [primary, backup])
    assert [a.model for a in done.attempts] == ["primary", "backup"]


def test_another_keys_rate_limits_are_not_this_ones() -> None:
    health = book(Clock())
    spec_a = ModelConfig(name="a", provider="openai", model="small", api_key_env="KEY_A")
    spec_b = ModelConfig(name="b", provider="openai", model="small", api_key_env="KEY_B")
    a = dataclasses.replace(LOCAL, name="a", spec=spec_a)
    b = dataclasses.replace(LOCAL, name="b", spec=spec_b)
    for _ in range(3):
        health.record(a, UpstreamRateLimitError("a: 429", status=429))
    assert health.open_reason(a) is not None
    assert health.open_reason(b) is None


def test_only_the_trials_owner_releases_it() -> None:
    clock = Clock()
    health = book(clock)
    for _ in range(3):
        health.record(LOCAL, down())
    clock.now += 31.0
    assert health.begin(LOCAL) is True  # this call is the trial
    assert health.begin(LOCAL) is False  # a second caller is not
    assert health.on_trial(LOCAL)


def test_every_entry_of_a_server_that_is_out_is_listed() -> None:
    health = book(Clock())
    twin = entry("local-queued", tier="async", max_delay_s=60.0)
    for _ in range(3):
        health.record(LOCAL, down())
    assert set(health.open_models()) == {"local"}  # only the entry whose calls failed
    assert set(health.open_models([LOCAL, twin])) == {"local", "local-queued"}
