"""Scored outcomes close the loop without feedback: the router's history reads them, so
a local model that keeps breaking an operation's JSON contract loses that operation to
the real-time tier, and one that keeps the contract keeps it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from fakes.openai_upstream import FakeOpenAI
from fakes.upstream import Action
from switchtower.config.schema import Config
from switchtower.pipeline import Pipeline
from switchtower.store import SafeTraceWriter
from switchtower.store.sql import open_store
from switchtower.types import Outcome, Request, Trace


def _pipeline(fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    monkeypatch.setenv("FAKE_KEY", "unused")

    def model(name: str, model_id: str, price: float) -> dict[str, Any]:
        return {"name": name, "provider": "openai", "base_url": fake.base_url,
                "model": model_id, "api_key_env": "FAKE_KEY", "input_per_mtok": price,
                "output_per_mtok": 4 * price}  # fmt: skip

    config = Config.model_validate(
        {
            "operations": [
                {"name": "extract-data", "description": "pull fields out of text as JSON"},
                {"name": "answer-question", "description": "answer a question"},
            ],
            "tiers": {
                "local": {"models": [model("local", "local-small", 0.0)]},
                "realtime": {"models": [model("frontier", "frontier", 2.0)]},
            },
            "storage": {"url": f"sqlite:///{tmp_path / 'traces.db'}"},
            "cache": {"when": "never"},
        }
    )
    # history read fresh on every request (the default refreshes it every 30 s)
    store = open_store(config.storage.url, spool_dir=tmp_path, history_ttl_s=0.0)
    return Pipeline.from_config(config, store=store, jobs=None)


async def _tiers(pipe: Pipeline, fake: FakeOpenAI, local_answer: str, n: int) -> str:
    """Route and answer ``n`` JSON-mode extraction requests; the tiers, one letter each."""
    tiers = []
    for i in range(n):
        request = Request.from_text(
            f"Extract the invoice number and the total from this email as JSON: #{i}",
            operation="extract-data",
            params={"response_format": {"type": "json_object"}},
        )
        decision = pipe.plan(request)
        fake.script(Action(text=local_answer), model="local-small")
        fake.script(Action(text='{"invoice": 1, "total": 2}'), model="frontier")
        await pipe.execute(decision)
        tiers.append(decision.route.tier[0])
    await pipe.aclose()
    return "".join(tiers)


async def test_a_local_model_that_breaks_the_contract_loses_the_operation(
    fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiers = await _tiers(
        _pipeline(fake_openai, tmp_path, monkeypatch), fake_openai, "Invoice 7, total 2", 20
    )
    assert tiers[0] == "l"  # the priors start it local
    assert "r" in tiers[:5]
    assert set(tiers[10:]) == {"r"}, tiers


async def test_a_local_model_that_keeps_the_contract_keeps_it(
    fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiers = await _tiers(
        _pipeline(fake_openai, tmp_path, monkeypatch), fake_openai, '{"invoice": 7}', 20
    )
    assert set(tiers) == {"l"}, tiers


def test_old_outcomes_age_out_of_the_history_with_history_days(tmp_path: Path) -> None:
    """``storage.history_days`` bounds the history the router reads: a model that broke
    the contract last week is judged on this week's answers."""
    now = time.time()

    def judged(i: int, age_days: float, ok: bool) -> Trace:
        return Trace(
            id=f"t{i}", created_at=now - age_days * 86400, request_digest="d" * 64,
            operation="extract-data", confidence=0.9, tier="local", model="local",
            deadline="interactive", signals={}, decision={},
            outcome=Outcome(success=ok, source="contract"),
        )  # fmt: skip

    traces = [judged(i, 8.0, False) for i in range(5)] + [judged(9, 0.1, True)]
    counts = {}
    for days in (None, 7.0):
        config = Config.model_validate(
            {
                "operations": [{"name": "extract-data", "description": "pull out fields"}],
                "storage": {"url": f"sqlite:///{tmp_path / f'{days}.db'}", "history_days": days},
            }
        )
        pipe = Pipeline.from_config(config, jobs=None)
        assert isinstance(pipe.store, SafeTraceWriter)
        pipe.store.store.write_many(traces)
        pipe.store.store.refresh_history()
        counts[days] = pipe.store.success_counts("extract-data")[1]["local"]
        pipe.store.close()
    assert counts == {None: (1.0, 6.0), 7.0: (1.0, 1.0)}
