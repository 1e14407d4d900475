"""Outcomes without feedback: scorers combined and wired from config, a settled job's
outcome, and the nightly loop learning from scored traces (the live gateway's part is
in ``tests/server/test_outcome_scoring.py``)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import pytest

from switchtower.config.schema import Config
from switchtower.errors import ConfigError
from switchtower.nightly import PolicyHistory, run_nightly
from switchtower.nightly.scoring import score_checked, score_trace
from switchtower.registries import scorers as scorer_registry
from switchtower.scoring import build_scorers, score_answer
from switchtower.scoring.opinions import SecondOpinionScorer
from switchtower.store.sql import open_store
from switchtower.tracing import TraceRecorder, settle_trace
from switchtower.types import (
    FAILURE_MODES,
    Completion,
    Outcome,
    Request,
    Tier,
    Trace,
    Usage,
    Verification,
)


class Fixed:
    def __init__(self, outcome: Outcome | None) -> None:
        self.outcome = outcome
        self.calls = 0

    def score(self, request: Request, completion: Completion) -> Outcome | None:
        self.calls += 1
        return self.outcome


class Broken:
    def score(self, request: Request, completion: Completion) -> Outcome | None:
        raise RuntimeError("scorer bug")


def completion(model: str = "cheap", verification: Verification | None = None) -> Completion:
    return Completion(
        text="18", model=model, tier="local", usage=Usage(), cost_usd=0.0,
        verification=verification,
    )  # fmt: skip


REQ = Request.from_text("what is 3 * 6?")
OK = Outcome(success=True, source="a")
BAD = Outcome(success=False, source="b")
ZERO = Outcome(score=0.0, source="c")


def test_the_first_failure_wins_else_the_first_success() -> None:
    assert score_answer([Fixed(OK), Fixed(BAD)], REQ, completion()) is BAD
    assert score_answer([Fixed(None), Fixed(OK), Fixed(ZERO)], REQ, completion()) is ZERO
    assert (
        score_answer([Fixed(OK), Fixed(Outcome(success=True, source="d"))], REQ, completion()) is OK
    )
    assert score_answer([Fixed(None)], REQ, completion()) is None
    assert score_answer([], REQ, completion()) is None
    later = Fixed(OK)
    assert score_answer([Fixed(BAD), later], REQ, completion()) is BAD
    assert later.calls == 0


def test_a_failing_scorer_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="switchtower.scoring"):
        assert score_answer([Broken(), Fixed(OK)], REQ, completion()) is OK
    assert "scorer bug" in caplog.text


@pytest.mark.parametrize(
    ("verdict", "answered_by", "escalated", "sided", "expected"),
    [
        ("agree", "cheap", None, None, True),
        ("disagree", "cheap", None, None, False),  # escalation failed: the cheap answer stood
        ("disagree", "big", "big", "peer", True),  # big and the peer gave the same answer
        ("disagree", "big", "big", "checked", True),  # big and the cheap model did
        ("disagree", "big", "big", None, None),  # big agreed with nobody
        ("unverified", "cheap", None, None, None),
    ],
)
def test_second_opinion_verdicts(
    verdict: Any, answered_by: str, escalated: str | None, sided: Any, expected: bool | None
) -> None:
    v = Verification(
        verdict=verdict, checked="cheap", peers=("peer",), escalated_to=escalated, sided_with=sided
    )
    out = SecondOpinionScorer().score(REQ, completion(answered_by, v))
    if expected is None:
        assert out is None
    else:
        assert out is not None
        assert out.success is expected
        assert out.source == "second-opinion"
    assert SecondOpinionScorer().score(REQ, completion()) is None


def test_scorers_come_from_config_and_the_registry() -> None:
    assert [type(s).__name__ for s in build_scorers(Config())] == [
        "ContractScorer",
        "SecondOpinionScorer",
    ]
    assert build_scorers(Config.model_validate({"scoring": {"scorers": []}})) == ()
    with pytest.raises(ConfigError, match=r"scoring\.scorers\[0\]: unknown scorers 'nope'"):
        build_scorers(Config.model_validate({"scoring": {"scorers": [{"name": "nope"}]}}))
    with pytest.raises(ConfigError, match="bad options"):
        build_scorers(
            Config.model_validate(
                {"scoring": {"scorers": [{"name": "contract", "options": {"x": 1}}]}}
            )
        )
    # a third party's scorer registers exactly as the built-ins do
    scorer_registry.add("always-fine-test", lambda *, config=None: Fixed(OK))
    cfg = Config.model_validate({"scoring": {"scorers": [{"name": "always-fine-test"}]}})
    (custom,) = build_scorers(cfg)
    assert score_answer([custom], REQ, completion()) is OK


def _trace(outcome: Outcome | None = None) -> Trace:
    return Trace(
        id="t1", created_at=time.time(), request_digest="d" * 64, operation="summarize",
        confidence=0.9, tier="local", model="fake-local", deadline="batch",
        signals={"complexity": 0.2, **dict.fromkeys(FAILURE_MODES, 0.0)},
        decision={"context_tokens": 10}, status="queued", outcome=outcome,
    )  # fmt: skip


def test_a_settled_job_carries_its_answers_outcome() -> None:
    planned = _trace()
    done = settle_trace(planned, completion("fake-local"), (), 5.0, frontier=None, outcome=BAD)
    assert done.outcome is BAD
    failed = settle_trace(planned, None, (), 5.0, frontier=None, outcome=BAD)
    assert failed.outcome is None


# -- the nightly loop ---------------------------------------------------------------------


def test_the_nightly_loop_learns_from_scored_traces_and_says_who_judged(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'st.db'}", spool_dir=tmp_path)

    def model(name: str, price: float) -> dict[str, Any]:
        return {"name": name, "provider": "openai", "base_url": "http://127.0.0.1:9/v1",
                "input_per_mtok": price, "output_per_mtok": price}  # fmt: skip

    cfg = Config.model_validate(
        {
            "operations": [{"name": "extract"}],
            "tiers": {
                "local": {"models": [model("small", 0.0)]},
                "realtime": {"models": [model("big", 5.0)]},
            },
            "router": {"policy": str(tmp_path / "policy.json")},
        }
    )
    now = time.time()
    traces = []
    for i in range(200):
        small = i % 2 == 0
        kept = (i % 10 != 0) if not small else (i % 10 < 4)  # small keeps the form 40%
        source = "contract" if i % 5 else "feedback"
        traces.append(
            Trace(
                id=f"s{i:04d}",
                created_at=now - 600 + i,
                request_digest="d" * 64,
                operation="extract",
                confidence=0.9,
                tier="local" if small else "realtime",
                model="small" if small else "big",
                deadline="interactive",
                signals={"complexity": 0.3, **dict.fromkeys(FAILURE_MODES, 0.0)},
                decision={"context_tokens": 300},
                usage=Usage(300, 50),
                outcome=Outcome(success=kept, source=source),
            )
        )
    # 20 answers of small checked by a peer, escalated to big, which sided with the peer:
    # big's answer is the trace's (scored a success), and small was wrong
    check = Verification("disagree", "small", ("peer",), escalated_to="big", sided_with="peer")
    for i in range(20):
        traces.append(
            replace(
                traces[2 * i + 1],
                id=f"e{i:04d}",
                decision={"context_tokens": 300, "verification": check.to_json()},
                outcome=Outcome(success=True, source="second-opinion"),
            )
        )
    assert store.write_many(traces) == 220
    item = score_trace(traces[1], {"small": "local", "big": "realtime"})
    assert item is not None
    assert item.source == "contract"
    assert cfg.router.policy is not None
    window = (now - 3600, now + 1)
    report = run_nightly(
        cfg, store.iter_traces(*window), PolicyHistory(cfg.router.policy), window=window
    )
    assert report.scored == 240
    counts = {"contract": 160, "feedback": 40, "second-opinion": 40}
    assert report.by_source == counts
    assert report.to_json()["by_source"] == counts
    assert report.published, report.reason
    assert report.by_model["small"] == (120, pytest.approx(40 / 120, abs=1e-4))
    assert report.by_model["big"] == (120, 1.0)
    store.engine.dispose()


def test_a_cache_hit_is_not_scored_again() -> None:
    """The cached answer was scored when its model gave it; counting it again would
    give that model a second outcome for one answer."""
    recorder = TraceRecorder(Config(), None, None)
    json_request = Request.from_text("x", params={"response_format": {"type": "json_object"}})
    fresh = completion()  # "18": JSON, but not an object
    scored = recorder.score(json_request, fresh)
    assert scored is not None
    assert (scored.success, scored.source) == (False, "contract")
    assert recorder.score(json_request, replace(fresh, cached="key")) is None
    assert recorder.score(json_request, None) is None


def test_the_nightly_loop_learns_the_checked_model_from_an_escalation() -> None:
    """The served answer is the escalation's; whose answer it gave also judges the
    checked model: right when it sided with it, wrong when it sided with the peer."""
    models: dict[str, Tier] = {"cheap": "local", "big": "realtime"}

    def escalated(sided: Literal["checked", "peer"] | None) -> Trace:
        v = Verification("disagree", "cheap", ("peer",), escalated_to="big", sided_with=sided)
        return replace(
            _trace(Outcome(success=True, source="second-opinion")),
            status="ok",
            model="big",
            tier="realtime",
            decision={"context_tokens": 10, "verification": v.to_json()},
        )

    cases: list[tuple[Literal["checked", "peer"], float]] = [("peer", 0.0), ("checked", 1.0)]
    for sided, quality in cases:
        item = score_checked(escalated(sided), models)
        assert item is not None
        assert (item.example.model, item.example.tier) == ("cheap", "local")
        assert (item.example.quality, item.source) == (quality, "second-opinion")
        served = score_trace(escalated(sided), models)
        assert served is not None
        assert served.example.model == "big"
    assert score_checked(escalated(None), models) is None
    assert score_checked(_trace(), models) is None
    assert score_checked(escalated("peer"), {"big": "realtime"}) is None  # model gone
