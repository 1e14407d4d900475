"""The replay provider speaks the Provider protocol and answers from recorded outcomes."""

from __future__ import annotations

import pytest

from switchtower.bench.replay import ReplayProvider, replay_delay
from switchtower.bench.tiers import TierPlan, is_api_model
from switchtower.bench.workload import ModelOutcome, WorkloadItem
from switchtower.config.schema import Config, ModelConfig
from switchtower.errors import UpstreamRejectedError
from switchtower.pricing import build_model_infos
from switchtower.protocols import Provider
from switchtower.registries import providers
from switchtower.types import Request


def _items() -> list[WorkloadItem]:
    return [
        WorkloadItem(
            id="a",
            messages=({"role": "user", "content": "hello"},),
            operation="op",
            deadline="batch",
            outcomes={
                "gpt-4-1106-preview": ModelOutcome(0.9, 10, 20, response="strong"),
                "mistralai/Mixtral-8x7B-Instruct-v0.1": ModelOutcome(0.6, 10, 5),
            },
            dataset="toy",
        )
    ]


def test_tier_rule_generalizes_by_name() -> None:
    for api in ("gpt-4-1106-preview", "claude-v2", "openai/gpt-4o", "gemini-1.5-pro",
                "command-r-plus", "anthropic/some-new-model"):  # fmt: skip
        assert is_api_model(api), api
    for local in ("mistralai/mistral-7b-chat", "zero-one-ai/Yi-34B-Chat",
                  "meta/llama-2-70b-chat", "WizardLM/WizardLM-13B-V1.2", "qwen2.5-7b"):  # fmt: skip
        assert not is_api_model(local), local


def test_tier_plan_prices_tokens_when_no_cost_is_recorded() -> None:
    plan = TierPlan.from_items(_items())
    assert plan.local == ("mistralai/Mixtral-8x7B-Instruct-v0.1",)
    assert plan.api == ("gpt-4-1106-preview",)
    item = _items()[0]
    # GPT-4-1106: $10 / $30 per million in / out -> 10 * 10e-6 + 20 * 30e-6
    assert plan.cost(item, "gpt-4-1106-preview", "realtime") == pytest.approx(0.0007)
    assert plan.cost(item, "gpt-4-1106-preview", "async") == pytest.approx(0.00035)
    assert plan.cost(item, "mistralai/Mixtral-8x7B-Instruct-v0.1", "local") == 0.0
    priced = TierPlan.from_items(_items(), local_per_mtok=1.0)
    assert priced.cost(item, "mistralai/Mixtral-8x7B-Instruct-v0.1", "local") == pytest.approx(
        15e-6
    )
    assert set(plan.tier_configs()) == {"local", "async", "realtime"}


async def test_replay_answers_with_recorded_outcome_and_delay() -> None:
    items = _items()
    plan = TierPlan.from_items(items)
    replay = ReplayProvider(items, plan)
    assert isinstance(replay, Provider)
    config = Config(tiers=plan.tier_configs())
    infos = build_model_infos(config, {"replay": replay})
    batch = next(m for m in infos["async"].models)
    rt = next(m for m in infos["realtime"].models)
    request = items[0].request()
    done = await replay.complete(rt, request)
    assert done.text == "strong"
    assert done.raw["replay"]["quality"] == 0.9
    assert done.cost_usd == pytest.approx(0.0007)
    assert done.raw["replay"]["delay_s"] < 10.0
    queued = await replay.complete(batch, request)
    assert queued.tier == "async"
    assert queued.cost_usd == pytest.approx(0.00035)
    delay = queued.raw["replay"]["delay_s"]
    assert 0.1 * batch.max_delay_s <= delay <= batch.max_delay_s
    assert delay == replay_delay("a", batch.name, "async", batch.max_delay_s)
    # matched by digest when the id differs
    again = await replay.complete(rt, Request(messages=request.messages))
    assert again.text == "strong"
    chunks = [c async for c in replay.stream(rt, request)]
    assert chunks[-1]["usage"]["completion_tokens"] == 20
    with pytest.raises(UpstreamRejectedError):
        await replay.complete(rt, Request.from_text("never recorded"))


def test_replay_is_registered_as_a_provider() -> None:
    import switchtower.bench.replay  # noqa: F401 - importing registers it

    assert "replay" in providers
    assert replay_delay("x", "m", "realtime", 0.0) < 1.0


def test_model_config_names_are_valid_for_replay() -> None:
    plan = TierPlan.from_items(_items())
    names = [m.name for t in plan.tier_configs().values() for m in t.models]
    assert "gpt-4-1106-preview@batch" in names
    assert all(isinstance(m, ModelConfig) for t in plan.tier_configs().values() for m in t.models)
