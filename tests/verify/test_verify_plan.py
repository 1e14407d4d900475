"""Who gives a second opinion and who answers on disagreement (``plan_checks``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from switchtower.config.schema import VerifyConfig
from switchtower.protocols import ModelInfo
from switchtower.types import Tier
from switchtower.verify.plan import plan_checks


def _m(name: str, tier: Tier, price: float = 0.0) -> ModelInfo:
    return ModelInfo(
        name=name,
        tier=tier,
        provider="openai",
        model_id=name,
        context_window=8192,
        input_per_mtok=price,
        output_per_mtok=price,
    )


LOCAL = [_m("yi", "local"), _m("mixtral", "local"), _m("mistral", "local")]
BATCH = [_m("gpt4-batch", "async", 5.0)]
RT = [_m("gpt35", "realtime", 1.0), _m("gpt4", "realtime", 10.0)]
P = {"yi": 0.9, "mixtral": 0.8, "mistral": 0.6, "gpt4-batch": 0.95, "gpt35": 0.8, "gpt4": 0.95}


def _plan(
    cands: dict[Tier, list[ModelInfo]],
    op: str = "answer-question",
    value: float | None = None,
    **kw: Any,
) -> Any:
    return plan_checks(
        VerifyConfig(**kw),
        op,
        cands[next(iter(cands))][0],
        cands,
        success=lambda m: P[m.name],
        cost=lambda m: m.input_per_mtok,
        value=value,
    )


def test_strongest_peer_and_strongest_cheaper_escalation() -> None:
    peers, up = _plan({"local": LOCAL, "async": BATCH, "realtime": RT})
    assert peers == ("mixtral",)
    assert up == ("gpt4-batch", "gpt4", "gpt35")  # equal success: the batch entry is cheaper


def test_more_second_opinions() -> None:
    peers, _ = _plan({"local": LOCAL, "realtime": RT}, second_opinions=2)
    assert peers == ("mixtral", "mistral")


def test_off_for_other_operations_tiers_or_zero() -> None:
    cands: dict[Tier, list[ModelInfo]] = {"local": LOCAL, "realtime": RT}
    assert _plan(cands, op="write-code") == ((), ())
    assert _plan(cands, second_opinions=0) == ((), ())
    assert _plan(cands, tiers=("async",)) == ((), ())


def test_nothing_to_escalate_to_or_nobody_to_ask() -> None:
    # a request pinned to (or capped at) the local tier has no higher eligible tier
    assert _plan({"local": LOCAL}) == ((), ())
    assert _plan({"local": LOCAL[:1], "realtime": RT}) == ((), ())


def test_under_the_value_rule_an_escalation_must_pay_for_itself() -> None:
    cands: dict[Tier, list[ModelInfo]] = {"local": LOCAL, "async": BATCH, "realtime": RT}
    # a success worth 10: gpt4-batch nets 9.5 - 5 = 4.5 < yi's 9.0: no check at all
    assert _plan(cands, value=10.0) == ((), ())
    # worth 1000: every higher model beats yi's 900; best net value first
    peers, up = _plan(cands, value=1000.0)
    assert peers == ("mixtral",)
    assert up == ("gpt4-batch", "gpt4")  # gpt35 (800 - 1) does not beat yi (900)


def test_the_same_upstream_model_is_no_second_opinion() -> None:
    twin = dataclasses.replace(LOCAL[0], name="yi-q4")  # model_id "yi" too
    cands: dict[Tier, list[ModelInfo]] = {"local": [LOCAL[0], twin], "realtime": RT}
    assert _plan(cands) == ((), ())


def test_a_batch_api_is_never_an_escalation() -> None:
    """An escalation answers while the client waits; a batch API answers later."""
    batch_api = [dataclasses.replace(BATCH[0], batch=True)]
    peers, up = _plan({"local": LOCAL, "async": batch_api, "realtime": RT})
    assert peers == ("mixtral",)
    assert up == ("gpt4", "gpt35")
    assert _plan({"local": LOCAL, "async": batch_api}) == ((), ())
