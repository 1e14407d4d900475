"""The sweeps serve a selection with second opinions as the pipeline does."""

from __future__ import annotations

import pytest

from switchtower.bench.checked import serve_selection
from switchtower.bench.tiers import BATCH_SUFFIX, TierPlan
from switchtower.bench.workload import ModelOutcome, WorkloadItem
from switchtower.types import Selection

YI, MIX, GPT4 = "zero-one-ai/Yi-34B-Chat", "mistralai/mixtral-8x7b-chat", "gpt-4-1106-preview"


def _item(yi: str, mixtral: str) -> WorkloadItem:
    return WorkloadItem(
        id="q1",
        messages=({"role": "user", "content": "Which one? A) x B) y"},),
        operation="answer-question",
        deadline="batch",
        outcomes={
            YI: ModelOutcome(0.0, 10, 1, response=yi),
            MIX: ModelOutcome(1.0, 10, 1, response=mixtral),
            GPT4: ModelOutcome(1.0, 10, 1, response="B", cost_usd=0.01),
        },
        dataset="toy",
    )


CHECKED = Selection(
    model=YI,
    tier="local",
    estimate=0.9,
    second_opinions=(MIX,),
    escalation=(GPT4 + BATCH_SUFFIX, GPT4),
)


def test_agreement_keeps_the_cheap_answer() -> None:
    item = _item("A", "a)")
    plan = TierPlan.from_items([item])
    served = serve_selection(item, CHECKED, plan)
    assert (served.model, served.quality, served.cost_usd) == (YI, 0.0, 0.0)


def test_disagreement_is_served_by_the_first_escalation_and_paid_for() -> None:
    item = _item("A", "B")
    plan = TierPlan.from_items([item])
    served = serve_selection(item, CHECKED, plan)
    assert (served.model, served.tier, served.quality) == (GPT4 + BATCH_SUFFIX, "async", 1.0)
    assert served.cost_usd == pytest.approx(plan.cost(item, GPT4, "async"))
    assert served.cost_usd > 0


def test_no_final_answer_asks_no_peer_unless_parallel() -> None:
    essay = "It depends on many things that the question leaves open, so neither is right."
    item = _item(essay, "B")
    plan = TierPlan.from_items([item], local_per_mtok=1000.0)  # peers cost something
    alone = serve_selection(item, CHECKED, plan)
    both = serve_selection(item, CHECKED, plan, parallel=True)
    assert alone.model == both.model == YI
    assert both.cost_usd == pytest.approx(alone.cost_usd + plan.cost(item, MIX, "local"))


def test_a_selection_without_checks_is_served_plainly() -> None:
    item = _item("A", "B")
    plan = TierPlan.from_items([item])
    served = serve_selection(item, Selection(model=YI, tier="local", estimate=0.9), plan)
    assert served.model == YI
