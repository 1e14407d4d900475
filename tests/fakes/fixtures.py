"""Pytest fixtures for the fake upstreams: one server per test session, reset per test.

``fake_openai`` / ``fake_anthropic`` yield the fake (``.base_url``, ``.fail(...)``,
``.delay(...)``, ``.drop(...)``, ``.reply(...)``, ``.requests``, ``.active_requests``,
``.open_connections``). ``openai_model_config`` builds a ``ModelConfig`` pointing at the
fake OpenAI server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI

__all__ = ["fake_anthropic", "fake_anthropic_server", "fake_openai", "fake_openai_server"]


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_anthropic_server() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()


@pytest.fixture
def fake_anthropic(
    fake_anthropic_server: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeAnthropic]:
    """Also sets ``FAKE_ANTHROPIC_KEY`` (the SDK needs some key) for the test."""
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", "sk-ant-fake")
    fake_anthropic_server.reset()
    yield fake_anthropic_server
    fake_anthropic_server.reset()
