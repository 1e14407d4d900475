"""A config whose answer-question requests are checked: two free local models on the
fake OpenAI upstream, one priced real-time model, every tier clearing the threshold
(so the router and selector take the cheapest, local)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakes.openai_upstream import FakeOpenAI
from switchtower.config import load_config
from switchtower.config.schema import Config

__all__ = ["checked_config"]


def _model(fake: FakeOpenAI, name: str, price: float) -> dict[str, Any]:
    return {"name": name, "provider": "openai", "base_url": fake.base_url,
            "input_per_mtok": price, "output_per_mtok": price * 3}  # fmt: skip


def checked_config(fake: FakeOpenAI, db: Path) -> Config:
    return load_config(
        environ={},
        overrides={
            "operations": [
                {"name": "answer-question", "examples": ["what is the capital of France"]},
                {"name": "write-code", "examples": ["write a function that parses dates"]},
            ],
            "tiers": {
                "local": {"models": [_model(fake, "yi", 0.0), _model(fake, "mixtral", 0.0)]},
                "realtime": {"models": [_model(fake, "big", 10.0)]},
            },
            "router": {"success_threshold": 0.0},
            "selector": {"exploration": 0.0, "confidence_threshold": 0.0},
            "retry": {"max_attempts": 1, "base_delay_s": 0.0, "max_delay_s": 0.0},
            "storage": {"url": f"sqlite:///{db}"},
        },
    )
