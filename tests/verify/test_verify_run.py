"""A checked request against the fake OpenAI upstream: agree, disagree and escalate,
no verdict, failed peers and failed escalations. Calls go through the real openai
provider; the fake answers each model with scripted text."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes.models import info, openai_spec
from fakes.openai_upstream import FakeOpenAI
from switchtower.config.schema import RetryConfig
from switchtower.errors import AllModelsFailedError
from switchtower.execute import Executor
from switchtower.protocols import ModelInfo
from switchtower.providers import OpenAIProvider
from switchtower.types import Completion, Request
from switchtower.verify.run import execute_checked


@pytest.fixture
async def executor() -> AsyncIterator[Executor]:
    provider = OpenAIProvider()
    yield Executor({"openai": provider}, RetryConfig(max_attempts=1))
    await provider.aclose()


def _models(fake: FakeOpenAI) -> tuple[ModelInfo, ModelInfo, ModelInfo]:
    def local(name: str) -> ModelInfo:
        return info(openai_spec(fake, name=name, input_per_mtok=0.0, output_per_mtok=0.0), "local")

    big = info(openai_spec(fake, name="big", input_per_mtok=10.0, output_per_mtok=30.0))
    return local("yi"), local("mixtral"), big


async def _checked(
    executor: Executor, fake: FakeOpenAI, *, parallel: bool = False, **answers: str | int
) -> Completion:
    """Each model answers its text, or fails with its HTTP status; yi is checked by
    mixtral, big is both yi's fallback and the escalation."""
    yi, mixtral, big = _models(fake)
    for name, answer in answers.items():
        if isinstance(answer, int):
            fake.fail(answer, model=name)
        else:
            fake.reply(answer, model=name)
    return await execute_checked(
        executor, Request.from_text("q"), [yi, big], [mixtral], [big], parallel=parallel
    )


async def test_agreement_keeps_the_cheap_answer(
    executor: Executor, fake_openai: FakeOpenAI
) -> None:
    done = await _checked(executor, fake_openai, yi="B", mixtral="b) wet palms")
    assert (done.model, done.text) == ("yi", "B")
    assert done.verification is not None
    assert done.verification.verdict == "agree"
    assert done.verification.peers == ("mixtral",)
    assert sorted(a.model for a in done.attempts) == ["mixtral", "yi"]
    assert [r["model"] for r in fake_openai.requests].count("big") == 0


async def test_disagreement_escalates_and_pays_for_everything(
    executor: Executor, fake_openai: FakeOpenAI
) -> None:
    done = await _checked(executor, fake_openai, yi="B", mixtral="C", big="C")
    assert (done.model, done.tier, done.text) == ("big", "realtime", "C")
    assert done.verification is not None
    assert done.verification.verdict == "disagree"
    assert done.verification.escalated_to == "big"
    assert "mixtral answered differently from yi" in done.verification.detail
    assert [a.model for a in done.attempts][-1] == "big"
    assert len(done.attempts) == 3
    assert done.cost_usd == pytest.approx(sum(a.cost_usd for a in done.attempts))
    assert done.cost_usd > 0


@pytest.mark.parametrize(
    ("big", "sided"),
    [
        ("C", "peer"),  # the escalation gave the peer's answer: the cheap one was wrong
        ("The answer is B.", "checked"),  # it gave the cheap answer: the peer was wrong
        ("D", None),  # neither's
        ("It depends on what the question means.", None),  # nothing to compare
    ],
)
async def test_the_escalation_says_whose_answer_it_gave(
    executor: Executor, fake_openai: FakeOpenAI, big: str, sided: str | None
) -> None:
    done = await _checked(executor, fake_openai, yi="B", mixtral="C", big=big)
    assert done.verification is not None
    assert (done.verification.verdict, done.verification.sided_with) == ("disagree", sided)
    assert done.verification.to_json()["sided_with"] == sided


async def test_no_comparable_answer_keeps_the_cheap_answer(
    executor: Executor, fake_openai: FakeOpenAI
) -> None:
    done = await _checked(
        executor,
        fake_openai,
        yi="B",
        mixtral="It depends on many things that the question does not say.",
    )
    assert done.model == "yi"
    assert done.verification is not None
    assert done.verification.verdict == "unverified"


async def test_a_failed_peer_is_no_verdict(executor: Executor, fake_openai: FakeOpenAI) -> None:
    done = await _checked(executor, fake_openai, yi="B", mixtral=400)
    assert done.model == "yi"
    assert done.verification is not None
    assert done.verification.verdict == "unverified"
    assert [a.ok for a in done.attempts if a.model == "mixtral"] == [False]


async def test_failed_escalation_keeps_the_cheap_answer(
    executor: Executor, fake_openai: FakeOpenAI
) -> None:
    done = await _checked(executor, fake_openai, yi="B", mixtral="C", big=400)
    assert done.model == "yi"
    assert done.verification is not None
    assert done.verification.verdict == "disagree"
    assert done.verification.escalated_to is None
    assert "escalation failed" in done.verification.detail
    assert [a.model for a in done.attempts if not a.ok] == ["big"]


async def test_a_fallback_answer_is_not_checked(
    executor: Executor, fake_openai: FakeOpenAI
) -> None:
    done = await _checked(executor, fake_openai, yi=400, mixtral="C", big="B")
    assert done.model == "big"
    assert done.verification is not None
    assert done.verification.verdict == "unverified"
    assert "big answered in place of yi" in done.verification.detail


async def test_all_failed_carries_the_peers_attempts_when_asked_in_parallel(
    executor: Executor, fake_openai: FakeOpenAI
) -> None:
    yi, mixtral, big = _models(fake_openai)
    fake_openai.fail(400, model="yi")
    fake_openai.fail(400, model="big")
    fake_openai.reply("C", model="mixtral")
    with pytest.raises(AllModelsFailedError) as err:
        await execute_checked(
            executor, Request.from_text("q"), [yi, big], [mixtral], [big], parallel=True
        )
    assert sorted(a.model for a in err.value.attempts) == ["big", "mixtral", "yi"]


async def test_an_answer_without_a_final_answer_asks_no_peer(
    executor: Executor, fake_openai: FakeOpenAI
) -> None:
    essay = "It depends on the workload, the team and what the service must guarantee."
    done = await _checked(executor, fake_openai, yi=essay, mixtral="C")
    assert done.model == "yi"
    assert done.verification is not None
    assert done.verification.verdict == "unverified"
    assert done.verification.detail == "no final answer to compare: no peer asked"
    assert [r["model"] for r in fake_openai.requests] == ["yi"]
    # in parallel the peer is asked (and paid) before the answer is known
    fake_openai.requests.clear()
    done = await _checked(executor, fake_openai, parallel=True, yi=essay, mixtral="C")
    assert done.verification is not None
    assert done.verification.verdict == "unverified"
    assert sorted(r["model"] for r in fake_openai.requests) == ["mixtral", "yi"]


async def test_parallel_and_sequential_reach_the_same_verdicts(
    executor: Executor, fake_openai: FakeOpenAI
) -> None:
    for parallel in (False, True):
        done = await _checked(
            executor, fake_openai, parallel=parallel, yi="B", mixtral="C", big="C"
        )
        assert done.verification is not None
        assert (done.model, done.verification.verdict) == ("big", "disagree")
        assert len(done.attempts) == 3


async def test_a_fallback_to_the_peer_is_not_checked_against_itself(
    executor: Executor, fake_openai: FakeOpenAI
) -> None:
    yi, mixtral, big = _models(fake_openai)
    fake_openai.fail(400, model="yi")
    fake_openai.reply("C", model="mixtral")
    done = await execute_checked(
        executor, Request.from_text("q"), [yi, mixtral, big], [mixtral], [big]
    )
    assert done.model == "mixtral"
    assert done.verification is not None
    assert done.verification.verdict == "unverified"
    assert [r["model"] for r in fake_openai.requests] == ["yi", "mixtral"]
