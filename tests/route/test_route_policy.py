"""The policy artifact: fitting, versioning, save/load, and what the router does with it."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from routing_fakes import classification, config, signals, tiers

from switchtower.errors import ConfigError
from switchtower.route import (
    FEATURES,
    OutcomeExample,
    Policy,
    PolicyRouter,
    features_of,
    fit_policy,
)
from switchtower.types import Request

MODELS = {"small-local": "local", "mini": "realtime", "big": "realtime"}


def _examples(seed: int = 0, n: int = 120) -> list[OutcomeExample]:
    """small-local succeeds on translate-text and fails on write-code; big always works."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        for op, local_ok in (("translate-text", 0.97), ("write-code", 0.1)):
            f = features_of(classification(op), signals(complexity=rng.random() * 0.5))
            out.append(
                OutcomeExample(op, f, "local", "small-local", float(rng.random() < local_ok), 0.0)
            )
            out.append(OutcomeExample(op, f, "realtime", "big", float(rng.random() < 0.95), 0.01))
    return out


def _route(policy: Policy, op: str, **kw):  # type: ignore[no-untyped-def]
    router = PolicyRouter(config(router={"guards": []}), policy=policy)
    return router.route(classification(op), signals(**kw), tiers(), Request.from_text("x"))


def test_features_are_named_and_ordered() -> None:
    f = features_of(classification("unknown", 0.2), signals(complexity=0.4, context_tokens=99))
    assert list(f) == list(FEATURES)
    assert f["unknown"] == 1.0
    assert f["complexity"] == 0.4


def test_fitted_policy_routes_by_what_the_model_did_per_operation() -> None:
    """Built-in priors say write-code is weak locally and translate strong: invert that."""
    flipped = []
    for e in _examples():
        q = 1.0 - e.quality if e.model == "small-local" else e.quality
        flipped.append(OutcomeExample(e.operation, e.features, e.tier, e.model, q, e.cost_usd))
    policy = fit_policy(flipped, models=MODELS)
    assert _route(policy, "write-code").tier == "local"
    assert _route(policy, "translate-text").tier != "local"
    # and the unflipped data routes the other way round
    policy = fit_policy(_examples(), models=MODELS)
    assert _route(policy, "translate-text").tier == "local"
    assert _route(policy, "write-code").tier != "local"


def test_learned_weights_tell_items_of_one_operation_apart() -> None:
    """small-local succeeds on answer-question only when complexity is low."""
    rng = random.Random(1)
    exs = []
    for _ in range(400):
        c = rng.random()
        f = features_of(classification("answer-question"), signals(complexity=c))
        exs.append(
            OutcomeExample("answer-question", f, "local", "small-local", float(c < 0.5), 0.0)
        )
    policy = fit_policy(exs, models=MODELS, seed=3)
    assert "small-local" in policy.weights
    easy = _route(policy, "answer-question", complexity=0.1)
    hard = _route(policy, "answer-question", complexity=0.9)
    assert easy.predicted_success["local"] > 0.8 > hard.predicted_success["local"]
    assert easy.tier == "local"
    assert hard.tier != "local"


def test_no_weights_from_noise() -> None:
    rng = random.Random(2)
    exs = [
        OutcomeExample(
            "answer-question",
            features_of(classification("answer-question"), signals(complexity=rng.random())),
            "local",
            "small-local",
            float(rng.random() < 0.5),
            0.0,
        )
        for _ in range(300)
    ]
    policy = fit_policy(exs, models=MODELS)
    w = policy.weights.get("small-local")
    assert w is None or max(abs(c) for c in w.coef) < 0.5


def test_save_load_roundtrip_preserves_decisions(tmp_path: Path) -> None:
    policy = fit_policy(_examples(), models=MODELS)
    path = tmp_path / "policy.json"
    policy.save(path)
    loaded = Policy.load(path)
    assert loaded == policy
    assert loaded.content_hash() == policy.content_hash()
    for op in ("translate-text", "write-code", "unknown"):
        for c in (0.0, 0.5, 1.0):
            a, b = _route(policy, op, complexity=c), _route(loaded, op, complexity=c)
            assert (a.tier, a.predicted_success) == (b.tier, b.predicted_success)
    assert json.loads(path.read_text())["format"] == "switchtower.policy/1"


def test_versions_chain_to_their_parent() -> None:
    first = fit_policy(_examples(0), models=MODELS, created_at=1_000.0)
    second = fit_policy(_examples(1, n=20), models=MODELS, prior=first, created_at=2_000.0)
    assert first.parent is None
    assert second.parent == first.version
    assert second.version != first.version
    assert first.version.startswith(first.content_hash()[:12])
    # the update adds evidence (bandit-style: only what was observed)
    _, n1 = first.evidence["write-code"]["big"]
    _, n2 = second.evidence["write-code"]["big"]
    assert n2 == n1 + 20


def test_router_reads_the_policy_from_config_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    router = PolicyRouter(config(router={"guards": [], "policy": str(path)}), reload_s=1e-9)
    before = router.route(classification("write-code"), signals(), tiers(), Request.from_text("x"))
    assert before.policy_version == "builtin"  # no file yet: the built-in priors
    policy = fit_policy(_examples(), models=MODELS)
    policy.save(path)  # the nightly loop writes a new version: picked up without restart
    after = router.route(classification("write-code"), signals(), tiers(), Request.from_text("x"))
    assert after.policy_version == policy.version


def test_corrupt_policy_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{"format": "something-else"}')
    with pytest.raises(ConfigError, match=r"router\.policy"):
        Policy.load(path)


def test_router_and_selector_share_one_source_and_one_prediction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline's router and selector compile the policy once, and the selector reuses
    the prediction the router made for the same request."""
    from switchtower.route import predictor
    from switchtower.select import BetaSelector

    path = tmp_path / "policy.json"
    fit_policy(_examples(), models=MODELS).save(path)
    cfg = config(router={"guards": [], "policy": str(path)})
    router, selector = PolicyRouter(cfg), BetaSelector(cfg)
    assert router.source is selector.source
    calls = []
    real = predictor.feature_vector
    monkeypatch.setattr(predictor, "feature_vector", lambda *a: calls.append(1) or real(*a))
    c, s, t = classification("write-code"), signals(), tiers()
    route = router.route(c, s, t, Request.from_text("x"))
    selection = selector.select(c, s, route, t)
    assert len(calls) == 1
    again = BetaSelector(cfg).select(classification("write-code"), signals(), route, t)
    assert len(calls) == 2  # other (equal) inputs are predicted afresh
    assert (again.model, again.estimate) == (selection.model, selection.estimate)


def test_a_new_router_sees_a_policy_written_since_the_shared_source_loaded(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.json"
    old = fit_policy(_examples(seed=1), models=MODELS)
    old.save(path)
    cfg = config(router={"guards": [], "policy": str(path)})
    first = PolicyRouter(cfg, reload_s=3600.0)  # would not look again for an hour
    assert first.source.policy.version == old.version
    new = fit_policy(_examples(seed=2), models=MODELS)
    assert new.version != old.version
    new.save(path)
    os.utime(path, (1e9, 1e9))  # a different mtime, however coarse the file system's clock
    second = PolicyRouter(cfg, reload_s=3600.0)
    assert second.source is first.source
    assert second.source.policy.version == new.version
