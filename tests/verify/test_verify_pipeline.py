"""Second opinions wired through the pipeline: planned by the selector, run by
``Pipeline.execute``, written to the trace; skipped for tool calls and streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fakes.openai_upstream import FakeOpenAI
from switchtower.cli.render import render_result
from switchtower.pipeline import Pipeline
from switchtower.store import open_store
from switchtower.types import Request
from verify.checked import checked_config


@pytest.fixture
async def pipeline(fake_openai: FakeOpenAI, tmp_path: Path) -> AsyncIterator[Pipeline]:
    p = Pipeline.from_config(checked_config(fake_openai, tmp_path / "t.db"))
    yield p
    await p.aclose()


async def test_disagreement_is_escalated_and_traced(
    pipeline: Pipeline, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    request = Request.from_text("Which is larger, A) 3 or B) 5?", operation="answer-question")
    decision = pipeline.plan(request)
    assert decision.selection.tier == "local"
    assert decision.selection.escalation == ("big",)
    (peer,) = decision.selection.second_opinions
    fake_openai.reply("A", model=decision.selection.model)
    fake_openai.reply("B", model=peer)
    fake_openai.reply("B", model="big")
    result = await pipeline.execute(decision)
    assert result.completion is not None
    assert (result.completion.model, result.completion.text) == ("big", "B")
    trace = open_store(f"sqlite:///{tmp_path / 't.db'}").get(result.trace_id)
    assert trace is not None
    assert (trace.model, trace.tier) == ("big", "realtime")
    assert trace.decision["verification"]["verdict"] == "disagree"
    assert trace.decision["verification"]["escalated_to"] == "big"
    assert trace.decision["second_opinions"] == [peer]
    assert len(trace.attempts) == 3
    assert trace.cost_usd > 0
    assert f"checked    disagree: {peer} answered differently" in render_result(result)


def test_not_planned_for_other_operations_or_tool_calls(pipeline: Pipeline) -> None:
    code = pipeline.plan(Request.from_text("write a parser", operation="write-code"))
    assert code.selection.second_opinions == ()
    tools = {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}
    q = Request.from_text("What is 2+2?", operation="answer-question", params=tools)
    assert pipeline.plan(q).selection.second_opinions == ()
    pinned = Request.from_text("What is 2+2?", operation="answer-question", pinned_tier="local")
    assert pipeline.plan(pinned).selection.second_opinions == ()


async def test_a_stream_is_not_checked(
    pipeline: Pipeline, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    decision = pipeline.plan(Request.from_text("What is 2+2?", operation="answer-question"))
    assert decision.selection.second_opinions  # planned, then dropped for the stream
    fake_openai.reply("4", model=decision.selection.model)
    chunks = [c async for c in pipeline.stream(decision)]
    assert chunks
    assert {r["model"] for r in fake_openai.requests} == {decision.selection.model}
    trace = open_store(f"sqlite:///{tmp_path / 't.db'}").get(decision.request.id)
    assert trace is not None
    assert trace.decision["second_opinions"] == []
    assert "verification" not in trace.decision
