"""The pipeline wiring: hints, pinned models, dry runs, traces, and a database that is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fakes.openai_upstream import FakeOpenAI
from switchtower.config import Config, load_config
from switchtower.errors import NoEligibleModelError, UnknownModelError, UnknownOperationError
from switchtower.pipeline import Pipeline
from switchtower.store import open_store
from switchtower.types import Request


def make_config(fake: FakeOpenAI, storage: dict[str, Any]) -> Config:
    def model(name: str, model_id: str, price: float) -> dict[str, Any]:
        return {"name": name, "provider": "openai", "model": model_id,
                "base_url": fake.base_url, "input_per_mtok": price,
                "output_per_mtok": price * 4, "context_window": 8192}  # fmt: skip

    keyless = model("keyless", "fake-x", 1.0) | {"api_key_env": "NOPE_KEY"}
    return load_config(
        environ={},
        overrides={
            "tiers": {
                "local": {"models": [model("small", "fake-small", 0.0)]},
                "async": {"models": []},
                "realtime": {
                    "models": [
                        model("big", "fake-big", 2.0),
                        keyless,
                    ]
                },
            },
            "retry": {"max_attempts": 1, "base_delay_s": 0.0, "max_delay_s": 0.0},
            "storage": storage,
        },
    )


@pytest.fixture
async def pipeline(fake_openai: FakeOpenAI, tmp_path: Path) -> AsyncIterator[Pipeline]:
    cfg = make_config(fake_openai, {"url": f"sqlite:///{tmp_path / 't.db'}"})
    p = Pipeline.from_config(cfg)
    yield p
    await p.aclose()


async def test_trace_keeps_digest_not_prompt(pipeline: Pipeline, tmp_path: Path) -> None:
    request = Request.from_text("Say hello to the team", pinned_tier="local")
    result = await pipeline.run(request)
    trace = open_store(f"sqlite:///{tmp_path / 't.db'}").get(result.trace_id)
    assert trace is not None
    assert trace.request_digest == request.digest
    assert trace.prompt is None
    assert trace.model == "small"
    assert trace.tier == "local"
    assert trace.decision["operation"] == result.decision.classification.operation
    assert len(trace.attempts) == 1
    assert trace.counterfactual_cost_usd > trace.cost_usd == 0.0


async def test_prompts_are_kept_only_when_configured(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    p = Pipeline.from_config(make_config(fake_openai, {"url": url, "store_prompts": True}))
    try:
        result = await p.run(Request.from_text("keep me", pinned_tier="local"))
    finally:
        await p.aclose()
    trace = open_store(url).get(result.trace_id)
    assert trace is not None
    assert trace.prompt == "keep me"


async def test_concrete_model_bypasses_routing_but_is_traced(pipeline: Pipeline) -> None:
    result = await pipeline.run(Request.from_text("hi", model="big"))
    assert result.decision.route.rule == "pinned-model"
    assert result.completion is not None
    assert result.completion.model == "big"
    assert result.completion.cost_usd > 0.0


def test_a_named_model_that_cannot_be_called_here_says_why(pipeline: Pipeline) -> None:
    """Not "all models failed (tried none)": nothing was tried; the key is missing."""
    with pytest.raises(NoEligibleModelError, match=r"'keyless' cannot be called here: .*NOPE_KEY"):
        pipeline.plan(Request.from_text("hi", model="keyless"))
    dry = pipeline.plan(Request.from_text("hi", model="keyless"), assume_available=True)
    assert "NOPE_KEY" in pipeline.unavailable(dry)["keyless"]


def test_operation_hint_skips_the_classifier(pipeline: Pipeline) -> None:
    op = pipeline.config.operations[0].name
    decision = pipeline.plan(Request.from_text("anything at all", operation=op))
    assert decision.classification.operation == op
    assert decision.classification.backend == "client"
    with pytest.raises(UnknownOperationError):
        pipeline.plan(Request.from_text("x", operation="not-an-operation"))
    with pytest.raises(UnknownModelError):
        pipeline.plan(Request.from_text("x", model="not-a-model"))


def test_dry_run_names_models_that_cannot_be_called(pipeline: Pipeline) -> None:
    request = Request.from_text("hello", pinned_tier="realtime")
    decision = pipeline.plan(request, assume_available=True)
    missing = pipeline.unavailable(decision)
    assert set(missing) <= {"keyless"}
    if decision.selection.model == "keyless":
        assert "NOPE_KEY" in missing["keyless"]
    assert all(m.name != "keyless" for m in pipeline.candidates(decision))


async def test_database_down_at_start_loses_no_trace(
    fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway must start and serve with PostgreSQL unreachable; traces spool."""
    monkeypatch.setenv("SWITCHTOWER_SPOOL_DIR", str(tmp_path / "spool"))
    cfg = make_config(fake_openai, {"url": "postgresql+psycopg://postgres@127.0.0.1:9/test"})
    p = Pipeline.from_config(cfg)
    try:
        result = await p.run(Request.from_text("still works", pinned_tier="local"))
    finally:
        await p.aclose()
    assert result.completion is not None
    assert p.recorder.write_failures == 0
    spooled = list((tmp_path / "spool").rglob("*"))
    assert any(f.is_file() and result.trace_id in f.read_text() for f in spooled)
