"""Model configs and ModelInfos pointing at the fake upstreams."""

from __future__ import annotations

from typing import Any

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from switchtower.config.schema import ModelConfig
from switchtower.protocols import ModelInfo
from switchtower.types import Tier

__all__ = ["anthropic_spec", "info", "openai_spec"]


def openai_spec(fake: FakeOpenAI, name: str = "fake-model", **kw: Any) -> ModelConfig:
    """An ``openai`` provider entry on the fake (no key needed: loopback base URL)."""
    values: dict[str, Any] = {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "timeout_s": 5.0}
    values.update(kw)
    return ModelConfig(name=name, provider="openai", base_url=fake.base_url, **values)


def anthropic_spec(fake: FakeAnthropic, name: str = "fake-claude", **kw: Any) -> ModelConfig:
    """An ``anthropic`` entry on the fake; the ``fake_anthropic`` fixture sets the key."""
    values: dict[str, Any] = {
        "api_key_env": "FAKE_ANTHROPIC_KEY",
        "input_per_mtok": 3.0,
        "output_per_mtok": 15.0,
        "timeout_s": 5.0,
    }
    values.update(kw)
    return ModelConfig(name=name, provider="anthropic", base_url=fake.base_url, **values)


def info(spec: ModelConfig, tier: Tier = "realtime") -> ModelInfo:
    """A ModelInfo for ``spec`` priced from its config values (0 when unset)."""
    return ModelInfo(
        name=spec.name,
        tier=tier,
        provider=spec.provider,
        model_id=spec.model_id,
        context_window=spec.context_window,
        input_per_mtok=spec.input_per_mtok or 0.0,
        output_per_mtok=spec.output_per_mtok or 0.0,
        max_delay_s=spec.max_delay_s,
        batch=spec.batch,
        spec=spec,
    )
