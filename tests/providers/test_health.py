"""Model health (``health.py``): a model failing retryable calls in a row is taken out
for a cool-down that doubles while it keeps failing; routing and the executor go around
it; a success brings it back. Calls go through the real openai provider to the fake
upstream."""

from __future__ import annotations

import pytest

from fakes.models import info, openai_spec
from fakes.openai_upstream import FakeOpenAI
from switchtower.config.schema import RetryConfig
from switchtower.errors import (
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamServerError,
    UpstreamUnavailableError,
)
from switchtower.execute import Executor
from switchtower.health import HealthBook
from switchtower.protocols import TierInfo
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


def test_opens_after_failures_in_a_row_and_says_why() -> None:
    clock = Clock()
    health = book(clock)
    for _ in range(2):
        health.record("local", down())
    assert health.open_reason("local") is None
    health.record("local", down())
    reason = health.open_reason("local")
    assert reason is not None
    assert "3 failures in a row" in reason
    assert "upstream_unavailable" in reason
    assert health.open_models() == {"local": reason}
    assert health.open_reason("other") is None


def test_a_success_in_between_starts_the_count_again() -> None:
    health = book(Clock())
    health.record("m", down())
    health.record("m", down())
    health.record("m", None)
    health.record("m", down())
    health.record("m", down())
    assert health.open_reason("m") is None


def test_rejections_are_the_requests_fault_not_the_models() -> None:
    health = book(Clock())
    for _ in range(5):
        health.record("m", UpstreamRejectedError("m: 400 bad request", status=400))
        health.record("m", ValueError("a bug of ours"))
    assert health.open_reason("m") is None
    for _ in range(3):
        health.record("m", UpstreamServerError("m: 503", status=503))
    assert health.open_reason("m") is not None


def test_the_cool_down_doubles_while_it_keeps_failing_up_to_the_cap() -> None:
    clock = Clock()
    health = book(clock, circuit_cooldown_s=30.0, circuit_max_cooldown_s=100.0)
    waits = []
    for round_ in range(4):
        start = clock.now
        # three to open it; after a cool-down one failed trial opens it again at once,
        # and failures of calls still in flight while it is out change nothing
        for _ in range(3 if round_ == 0 else 1):
            health.record("m", down())
        health.record("m", down())
        while health.open_reason("m") is not None:
            clock.now += 1.0
        waits.append(clock.now - start)
    assert waits == [30.0, 60.0, 100.0, 100.0]
    health.record("m", None)  # a success closes it and forgets the history
    for _ in range(3):
        health.record("m", down())
    start = clock.now
    while health.open_reason("m") is not None:
        clock.now += 1.0
    assert clock.now - start == 30.0


def test_a_trial_failure_reopens_at_once() -> None:
    clock = Clock()
    health = book(clock)
    for _ in range(3):
        health.record("m", down())
    clock.now += 31.0
    assert health.open_reason("m") is None  # half-open: may be tried
    health.record("m", down())
    assert health.open_reason("m") is not None


def test_retry_after_longer_than_the_cool_down_is_kept() -> None:
    clock = Clock()
    health = book(clock)
    for _ in range(3):
        health.record("m", UpstreamRateLimitError("m: 429", status=429, retry_after=120.0))
    clock.now += 100.0
    assert health.open_reason("m") is not None
    clock.now += 21.0
    assert health.open_reason("m") is None


def test_zero_failures_means_never() -> None:
    health = book(Clock(), circuit_failures=0)
    for _ in range(10):
        health.record("m", down())
    assert health.open_reason("m") is None


def test_the_routing_view_marks_models_that_are_out(fake_openai: FakeOpenAI) -> None:
    health = book(Clock())
    local = info(openai_spec(fake_openai, name="local"), tier="local")
    big = info(openai_spec(fake_openai, name="big"), tier="realtime")
    tiers = {"local": TierInfo("local", (local,)), "realtime": TierInfo("realtime", (big,))}
    assert health.view(tiers) is tiers  # nothing out: the same object, no copy
    for _ in range(3):
        health.record("local", down())
    view = health.view(tiers)
    (out,) = view["local"].models
    assert not out.available
    assert out.unavailable_reason is not None
    assert out.unavailable_reason.startswith("circuit open: 3 failures in a row")
    assert view["realtime"].models == (big,)
    assert tiers["local"].models == (local,)  # the configured tiers are untouched


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
    calls = len(fake_openai.requests)
    second = await executor.execute(Request.from_text("hi"), models)
    assert [a.model for a in second.attempts] == ["backup"]  # primary skipped, not called
    assert len(fake_openai.requests) == calls + 1
    # a stream goes around it too
    stream = executor.stream(Request.from_text("hi"), models)
    async with stream:
        chunks = [c async for c in stream]
    assert chunks
    assert [a.model for a in stream.attempts] == ["backup"]
