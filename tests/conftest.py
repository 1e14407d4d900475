"""Shared fixtures. The fake upstreams live in ``tests/fakes`` (importable as ``fakes``)."""

from fakes.fixtures import (  # noqa: F401 - fixtures are found by name
    fake_anthropic,
    fake_anthropic_server,
    fake_openai,
    fake_openai_server,
)
