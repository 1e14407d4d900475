"""The ``policy`` router: priors, guards, deadlines, eligibility and explanations."""

from __future__ import annotations

import dataclasses

import pytest
from routing_fakes import classification, config, model, signals, tiers

from switchtower.errors import NoEligibleModelError
from switchtower.registries import routers
from switchtower.route.router import PolicyRouter, reference_call
from switchtower.types import DEADLINES, Request, tier_rank


def _route(router: PolicyRouter, op: str, sig=None, req=None, **kw):  # type: ignore[no-untyped-def]
    return router.route(
        classification(op, **kw),
        sig or signals(),
        tiers(),
        req or Request.from_text("x", accept_deferred=True),
    )


def test_registered_as_policy() -> None:
    import switchtower.route.builtin  # noqa: F401 - registers

    assert isinstance(routers.create("policy", config=config()), PolicyRouter)


def test_simple_translation_with_batch_deadline_goes_local_with_no_traces() -> None:
    d = _route(PolicyRouter(config()), "translate-text", signals("batch", complexity=0.1))
    assert d.tier == "local"
    assert d.predicted_success["local"] >= 0.8
    assert d.policy_version == "builtin"
    assert "cheapest eligible tier clearing" in d.explanation


def test_code_does_not_go_to_the_small_local_model() -> None:
    d = _route(PolicyRouter(config()), "write-code", signals("interactive", complexity=0.5))
    assert d.tier == "realtime"
    assert d.predicted_success["local"] < d.predicted_success["realtime"]


def test_prod_migration_with_force_push_goes_realtime_through_the_guard() -> None:
    sig = signals(
        "batch", complexity=0.3, modes={"risky_migration": 0.9, "high_consequence_write": 0.9}
    )
    d = _route(PolicyRouter(config()), "draft-reply", sig)  # even a "cheap" label
    assert d.tier == "realtime"
    assert d.rule is not None
    assert "guard" in d.rule
    assert d.eligible == ("realtime",)
    assert "below the guard floor" in d.explanation


def test_a_guard_floor_of_async_is_not_met_by_the_local_model_queued() -> None:
    """The default guard keeps security-sensitive work 'never below async': the queued
    local entry runs the same local model, so it must not count as async for the guard
    (a security prompt was answered by the 135M local model through it)."""
    sig = signals("batch", complexity=0.1, modes={"security_sensitive": 0.9})
    d = _route(PolicyRouter(config()), "translate-text", sig)
    assert d.rule is not None
    assert "security_sensitive" in d.rule
    assert "small-local-queued" not in d.candidates.get("async", ())
    assert "big-batch" in d.candidates["async"]
    unguarded = _route(PolicyRouter(config()), "translate-text", signals("batch", complexity=0.1))
    assert "small-local-queued" in unguarded.candidates.get("async", ())


def test_without_guards_the_same_request_may_go_cheaper() -> None:
    """The guard, not the prediction, is what forces real-time above."""
    cfg = config(router={"guards": []})
    sig = signals("batch", complexity=0.0, modes={"high_consequence_write": 0.6})
    d = _route(PolicyRouter(cfg), "translate-text", sig)
    assert tier_rank(d.tier) < tier_rank("realtime")
    assert d.rule is None


def test_operation_min_tier_is_a_guard() -> None:
    cfg = config(operations=[{"name": "deploy-notes", "min_tier": "realtime"}])
    d = _route(PolicyRouter(cfg), "deploy-notes", signals("batch", complexity=0.0))
    assert d.tier == "realtime"
    assert d.rule == "operation:deploy-notes>=realtime"


@pytest.mark.parametrize("op", ["translate-text", "write-code", "unknown", "solve-math"])
def test_interactive_never_gets_a_batch_or_queued_model(op: str) -> None:
    d = _route(PolicyRouter(config()), op, signals("interactive"))
    assert "async" not in d.eligible
    assert "big-batch" not in {m for ms in d.candidates.values() for m in ms}
    assert "exceeds the interactive deadline" in d.explanation


def test_soon_may_use_queued_local_but_not_a_24h_batch_api() -> None:
    d = _route(PolicyRouter(config()), "translate-text", signals("soon"))
    assert d.candidates["async"] == ("small-local-queued",)


def test_unavailable_tier_excluded_with_reason_in_explanation() -> None:
    router = PolicyRouter(config())
    d = router.route(
        classification("write-code"),
        signals("batch"),
        tiers(realtime=False),
        Request.from_text("x", accept_deferred=True),
    )
    assert "realtime" not in d.eligible
    assert "realtime: no OPENAI_API_KEY" in d.explanation


def test_nothing_eligible_names_why_each_tier_was_excluded() -> None:
    router = PolicyRouter(config())
    with pytest.raises(NoEligibleModelError) as err:
        router.route(
            classification("write-code"),
            signals("interactive"),
            tiers(realtime=False, local=False),
            Request.from_text("x", accept_deferred=True),
        )
    msg = str(err.value)
    assert "local: llama.cpp not installed" in msg
    assert "realtime: no OPENAI_API_KEY" in msg
    assert "async:" in msg


def test_guard_with_realtime_down_is_an_error_not_a_downgrade() -> None:
    router = PolicyRouter(config())
    sig = signals("batch", modes={"high_consequence_write": 0.9})
    with pytest.raises(NoEligibleModelError, match="below the guard floor"):
        router.route(
            classification("draft-reply"),
            sig,
            tiers(realtime=False),
            Request.from_text("x", accept_deferred=True),
        )


def test_pinned_and_max_tier_are_respected() -> None:
    router = PolicyRouter(config())
    d = _route(
        router, "write-code", req=Request.from_text("x", accept_deferred=True, pinned_tier="async")
    )
    assert d.tier == "async"
    assert d.eligible == ("async",)
    d = _route(
        router, "write-code", req=Request.from_text("x", accept_deferred=True, max_tier="async")
    )
    assert d.tier in ("local", "async")
    assert "above the request's max_tier" in d.explanation


def test_cost_cap_excludes_expensive_models() -> None:
    router = PolicyRouter(config())
    req = Request.from_text("x", accept_deferred=True, max_cost_usd=1e-9)
    d = router.route(classification("write-code"), signals("interactive"), tiers(), req)
    assert d.tier == "local"  # the only free model that meets the deadline
    assert "exceeds max_cost_usd" in d.explanation


def test_context_window_excludes_small_models() -> None:
    d = _route(PolicyRouter(config()), "translate-text", signals("batch", context_tokens=20_000))
    assert "local" not in d.eligible
    assert "20000 context tokens exceed" in d.explanation


def test_unknown_is_treated_conservatively() -> None:
    router = PolicyRouter(config())
    known = _route(router, "translate-text", signals("batch"))
    unknown = _route(router, "unknown", signals("batch"), confidence=0.3)
    assert known.tier == "local"
    assert tier_rank(unknown.tier) > tier_rank("local")
    assert unknown.predicted_success["local"] < known.predicted_success["local"]


def test_low_confidence_blends_in_the_alternatives() -> None:
    router = PolicyRouter(config())
    sure = _route(router, "translate-text")
    unsure = _route(router, "translate-text", confidence=0.5, alternatives=(("write-code", 0.4),))
    assert unsure.predicted_success["local"] < sure.predicted_success["local"]


def test_no_tier_clears_the_threshold_picks_the_highest_without_a_fallback_value() -> None:
    cfg = config(router={"success_threshold": 0.999, "fallback_value_calls": None})
    d = _route(PolicyRouter(cfg), "write-code", signals("batch"))
    best = max(d.predicted_success[t] for t in d.eligible)
    assert d.predicted_success[d.tier] == best
    assert "no eligible tier clears the threshold 0.999: chose the highest" in d.explanation


@pytest.mark.parametrize("deadline", ["interactive", "batch"])
def test_no_tier_clears_the_threshold_an_upgrade_must_be_worth_its_price(deadline: str) -> None:
    """Code: free local ~0.55 against ~0.9 on the paid tiers (priors). Any paid call costs
    at least a fifth of a call of big, the priciest model, so at 0.01 big calls per
    success no gain pays for it; at 1000 the highest prediction wins, as before."""
    sig = signals(deadline, complexity=0.5)  # type: ignore[arg-type]

    def at(calls: float):  # type: ignore[no-untyped-def]
        cfg = config(router={"success_threshold": 0.999, "fallback_value_calls": calls})
        return _route(PolicyRouter(cfg), "write-code", sig)

    cheap, dear = at(0.01), at(1000.0)
    assert cheap.tier == "local"
    assert "a success being worth 0.01 calls of big" in cheap.explanation
    assert "no eligible tier clears the threshold 0.999" in cheap.explanation
    best = max(dear.predicted_success[t] for t in dear.eligible)
    assert dear.tier != "local"
    assert dear.predicted_success[dear.tier] == best
    assert cheap.value_per_success_usd is None  # the value rule itself stays off


def test_fallback_value_needs_a_priced_model() -> None:
    """All models free: no reference call to price a success by, so the highest prediction."""
    t = {
        tier: info.__class__(
            tier,
            tuple(
                dataclasses.replace(m, input_per_mtok=0.0, output_per_mtok=0.0) for m in info.models
            ),
        )
        for tier, info in tiers().items()
    }
    assert reference_call(t, ctx=1000, out_tokens=500) is None
    cfg = config(router={"success_threshold": 0.999, "fallback_value_calls": 0.01})
    d = PolicyRouter(cfg).route(
        classification("write-code"),
        signals("interactive"),
        t,
        Request.from_text("x", accept_deferred=True),
    )
    assert d.tier == "realtime"
    assert "chose the highest predicted success" in d.explanation


def test_reference_call_is_the_priciest_model_at_the_request_tokens() -> None:
    t = tiers()
    t["local"] = t["local"].__class__(
        "local", (model("long-prompts", "local", input_per_mtok=3.0, output_per_mtok=0.0),)
    )
    ref_in = reference_call(t, ctx=100_000, out_tokens=10)
    ref_out = reference_call(t, ctx=10, out_tokens=100_000)
    assert ref_in is not None
    assert ref_out is not None
    assert ref_in[0].name == "long-prompts"
    assert ref_in[1] == pytest.approx((100_000 * 3.0) / 1e6)
    assert ref_out[0].name == "big"
    assert ref_out[1] == pytest.approx((10 * 2.0 + 100_000 * 8.0) / 1e6)


def test_same_upstream_model_tie_goes_to_the_cheaper_tier() -> None:
    """big-batch is the batch entry of big: equally capable, so async wins the tie."""
    router = PolicyRouter(config(router={"success_threshold": 0.999}))
    t = tiers()
    t["realtime"] = t["realtime"].__class__("realtime", (model("big", "realtime"),))
    t["async"] = t["async"].__class__(
        "async", (model("big-batch", "async", model_id="big", batch=True, max_delay_s=86_400.0),)
    )
    d = router.route(
        classification("write-code"),
        signals("batch"),
        t,
        Request.from_text("x", accept_deferred=True),
    )
    assert d.tier == "async"


def test_history_moves_the_prediction() -> None:
    router = PolicyRouter(config())
    good = _route(router, "write-code", signals(model_history={"small-local": (98.0, 100.0)}))
    bad = _route(router, "translate-text", signals(model_history={"small-local": (5.0, 100.0)}))
    assert good.tier == "local"
    assert bad.tier != "local"


def test_candidates_and_request_id_are_handed_to_the_selector() -> None:
    req = Request.from_text("x", accept_deferred=True)
    d = _route(PolicyRouter(config()), "write-code", req=req)
    assert d.request_id == req.id
    assert set(d.candidates) == set(d.eligible)


@pytest.mark.parametrize("deadline", DEADLINES)
def test_every_decision_explains_itself(deadline: str) -> None:
    d = _route(PolicyRouter(config()), "summarize-document", signals(deadline))  # type: ignore[arg-type]
    assert d.tier in d.eligible
    assert d.explanation.startswith(d.tier)


def test_value_rule_pays_for_a_tier_only_where_the_gain_is_worth_its_price() -> None:
    """Code: local ~0.55 against ~0.9 real-time (priors). At $0.0001 per success the
    ~0.35 gain is worth less than a real-time call; at $1 it is worth far more. The
    threshold rule goes real-time whatever a success is worth."""
    sig = signals("interactive", complexity=0.5)

    def at(value: float):  # type: ignore[no-untyped-def]
        router = PolicyRouter(config(router={"value_per_success_usd": value}))
        return _route(router, "write-code", sig)

    cheap, dear = at(0.0001), at(1.0)
    assert (cheap.tier, dear.tier) == ("local", "realtime")
    assert "highest expected net value at $0.0001 per success" in cheap.explanation
    assert _route(PolicyRouter(config()), "write-code", sig).tier == "realtime"


def test_value_rule_keeps_guards_and_deadlines() -> None:
    cfg = config(router={"value_per_success_usd": 0.0001})
    sig = signals("batch", modes={"risky_migration": 0.9})
    d = _route(PolicyRouter(cfg), "draft-reply", sig)
    assert d.tier == "realtime"  # the guard floor, not the value, decides
    assert d.rule is not None
    d = _route(PolicyRouter(config(router={"value_per_success_usd": 1.0})), "write-code")
    assert "async" in d.eligible  # batch deadline: the batch API is a candidate
    d = _route(PolicyRouter(cfg), "write-code", signals("interactive"))
    assert "async" not in d.eligible


@pytest.mark.parametrize("bad", [0, -1.0])
def test_value_per_success_must_be_positive(bad: float) -> None:
    from switchtower.errors import ConfigError

    with pytest.raises(ConfigError, match=r"value_per_success_usd: Input should be greater"):
        config(router={"value_per_success_usd": bad})


@pytest.mark.parametrize("bad", [0, -5.0, "lots"])
def test_fallback_value_calls_must_be_a_positive_number_or_null(bad: object) -> None:
    from switchtower.errors import ConfigError

    with pytest.raises(ConfigError, match=r"router\.fallback_value_calls"):
        config(router={"fallback_value_calls": bad})
    assert config(router={"fallback_value_calls": None}).router.fallback_value_calls is None
    assert config().router.fallback_value_calls == 20.0
