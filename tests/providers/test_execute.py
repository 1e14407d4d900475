"""The executor: retries with backoff and jitter, Retry-After, fallback, every attempt
recorded. Calls go through the real openai provider to the fake upstream; the sleep is
injected, so the requested delays are asserted without waiting."""

from __future__ import annotations

import dataclasses

import pytest

from fakes.models import info, openai_spec
from fakes.openai_upstream import FakeOpenAI
from switchtower.config.schema import RetryConfig
from switchtower.errors import AllModelsFailedError, UpstreamUnavailableError
from switchtower.execute import Executor
from switchtower.protocols import ModelInfo
from switchtower.providers import OpenAIProvider
from switchtower.types import Request


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
async def provider():
    p = OpenAIProvider()
    yield p
    await p.aclose()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make(provider: OpenAIProvider, sleeps: Sleeps, jitter: float = 1.0, **retry: float) -> Executor:
    config = RetryConfig(**{"max_attempts": 3, "base_delay_s": 0.5, "max_delay_s": 8.0, **retry})
    return Executor({"openai": provider}, config, sleep=sleeps, random=lambda: jitter)


def two_models(fake: FakeOpenAI) -> list[ModelInfo]:
    return [info(openai_spec(fake, name="primary")), info(openai_spec(fake, name="backup"))]


async def test_success_records_one_attempt(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    completion = await make(provider, sleeps).execute(
        Request.from_text("hi"), two_models(fake_openai)
    )
    assert completion.model == "primary"
    (attempt,) = completion.attempts
    assert attempt.ok
    assert attempt.model == "primary"
    assert attempt.usage == completion.usage
    assert attempt.cost_usd == pytest.approx(completion.cost_usd)
    assert attempt.latency_ms > 0
    assert sleeps == []


async def test_retries_5xx_with_exponential_backoff(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(500, model="primary")
    fake_openai.fail(503, model="primary")
    completion = await make(provider, sleeps).execute(
        Request.from_text("hi"), two_models(fake_openai)
    )
    assert completion.model == "primary"
    assert [a.ok for a in completion.attempts] == [False, False, True]
    assert [a.status for a in completion.attempts] == [500, 503, None]
    assert completion.attempts[0].error_kind == "upstream_server"
    assert sleeps == [0.5, 1.0]  # jitter source pinned at its maximum


async def test_full_jitter_stays_within_the_cap(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    import random

    rng = random.Random(1)
    executor = Executor(
        {"openai": provider},
        RetryConfig(max_attempts=6, base_delay_s=1.0, max_delay_s=3.0),
        sleep=sleeps,
        random=rng.random,
    )
    fake_openai.fail(500, times=5)
    await executor.execute(Request.from_text("hi"), two_models(fake_openai)[:1])
    ceilings = [1.0, 2.0, 3.0, 3.0, 3.0]
    assert len(sleeps) == 5
    assert all(0.0 <= s <= c for s, c in zip(sleeps, ceilings, strict=True))
    assert len(set(sleeps)) == 5  # jittered, not a fixed schedule


async def test_retry_after_is_honoured(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(429, retry_after="4", model="primary")
    completion = await make(provider, sleeps).execute(
        Request.from_text("hi"), two_models(fake_openai)
    )
    assert completion.model == "primary"
    assert completion.attempts[0].error_kind == "upstream_rate_limit"
    assert sleeps == [4.0]  # max(Retry-After 4 s, backoff 0.5 s)


async def test_retry_after_longer_than_max_delay_falls_back_at_once(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(429, retry_after="120", model="primary")
    completion = await make(provider, sleeps).execute(
        Request.from_text("hi"), two_models(fake_openai)
    )
    assert completion.model == "backup"
    assert [(a.model, a.ok) for a in completion.attempts] == [("primary", False), ("backup", True)]
    assert sleeps == []


async def test_falls_back_after_max_attempts(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(503, times=3, model="primary")
    completion = await make(provider, sleeps).execute(
        Request.from_text("hi"), two_models(fake_openai)
    )
    assert completion.model == "backup"
    assert [a.model for a in completion.attempts] == ["primary"] * 3 + ["backup"]
    assert sleeps == [0.5, 1.0]  # no wait after a model's last attempt


async def test_rejected_request_moves_on_without_retry(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(400, model="primary")
    completion = await make(provider, sleeps).execute(
        Request.from_text("hi"), two_models(fake_openai)
    )
    assert completion.model == "backup"
    assert completion.attempts[0].error_kind == "upstream_rejected"
    assert completion.attempts[0].status == 400
    assert sleeps == []


async def test_timeouts_and_dropped_connections_are_retried(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.delay(2.0, model="quick")
    fake_openai.drop(model="quick")
    model = info(openai_spec(fake_openai, name="quick", timeout_s=0.3))
    completion = await make(provider, sleeps).execute(Request.from_text("hi"), [model])
    kinds = [a.error_kind for a in completion.attempts]
    assert kinds == ["upstream_unavailable", "upstream_unavailable", None]
    assert completion.attempts[-1].ok


async def test_all_failed_carries_every_attempt(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(500, times=10)
    with pytest.raises(AllModelsFailedError) as caught:
        await make(provider, sleeps, max_attempts=2).execute(
            Request.from_text("hi"), two_models(fake_openai)
        )
    error = caught.value
    assert error.models_tried == ("primary", "backup")
    assert len(error.attempts) == 4
    assert not any(a.ok for a in error.attempts)
    assert "primary" in str(error)
    assert "backup" in str(error)


async def test_unavailable_candidates_are_skipped(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    primary, backup = two_models(fake_openai)
    primary = dataclasses.replace(primary, available=False, unavailable_reason="no KEY")
    completion = await make(provider, sleeps).execute(Request.from_text("hi"), [primary, backup])
    assert completion.model == "backup"
    assert [a.model for a in completion.attempts] == ["backup"]
    with pytest.raises(AllModelsFailedError, match="no KEY"):
        await make(provider, sleeps).execute(Request.from_text("hi"), [primary])


# -- streaming -------------------------------------------------------------------------


async def test_stream_retries_before_the_first_chunk(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(429, retry_after="1", model="primary")
    fake_openai.fail(500, times=3, model="primary")
    stream = make(provider, sleeps).stream(Request.from_text("a b"), two_models(fake_openai))
    chunks = [c async for c in stream]
    assert stream.model is not None
    assert stream.model.name == "backup"
    assert stream.text == "echo: a b"
    assert stream.usage.output_tokens == 3
    assert [(a.model, a.ok) for a in stream.attempts] == [("primary", False)] * 3 + [
        ("backup", True)
    ]
    assert stream.attempts[-1].usage == stream.usage
    assert sleeps == [1.0, 1.0]  # max(Retry-After 1, 0.5), then backoff 1.0
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    completion = stream.completion()
    assert completion is not None
    assert completion.cost_usd == pytest.approx(stream.model.cost(2, 3))


async def test_stream_failure_after_first_chunk_is_not_retried(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.drop(after=2, model="primary")
    stream = make(provider, sleeps).stream(Request.from_text("a b c"), two_models(fake_openai))
    got = []

    async def consume() -> None:
        async for chunk in stream:
            got.append(chunk)

    with pytest.raises(UpstreamUnavailableError) as caught:
        await consume()
    assert got
    assert caught.value is stream.error
    assert [(a.model, a.ok) for a in stream.attempts] == [("primary", False)]
    assert stream.attempts[0].error_kind == "upstream_unavailable"


async def test_stream_all_failed(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(400, times=2)
    stream = make(provider, sleeps).stream(Request.from_text("x"), two_models(fake_openai))
    with pytest.raises(AllModelsFailedError):
        async for _ in stream:
            pass
    assert len(stream.attempts) == 2
    assert stream.done


async def test_stream_closed_early_closes_upstream_and_records(
    provider: OpenAIProvider, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    """A client that disconnects mid-stream leaves no upstream request open."""
    fake_openai.slow_stream(0.05)
    stream = make(provider, sleeps).stream(
        Request.from_text("a b c d e f"), two_models(fake_openai)
    )
    async for _ in stream:
        break
    assert fake_openai.active_requests == 1
    await stream.aclose()
    assert fake_openai.wait_idle()
    (attempt,) = stream.attempts
    assert attempt.error_kind == "cancelled"
    assert not attempt.ok
