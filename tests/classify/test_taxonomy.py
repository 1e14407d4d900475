"""The built-in taxonomy, its out-of-scope class and the held-out agent-request set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from switchtower.classify import TrainedClassifier, evaluate, train_classifier
from switchtower.classify.builtin import builtin_out_of_scope, config_examples
from switchtower.classify.model import REJECT_LABEL
from switchtower.cli import cli
from switchtower.config.load import default_operations, load_config
from switchtower.types import UNKNOWN

REQUIRED = {
    "answer-question",
    "write-code",
    "solve-math",
    "draft-reply",
    "summarize-document",
    "summarize-repo",
    "fix-bug",
    "write-tests",
    "refactor",
    "review-code",
    "run-migration",
    "plan-task",
    "extract-data",
    "translate",
    "research",
}
DATA = Path(__file__).parents[2] / "benchmarks" / "data"
HELDOUT = DATA / "operations_heldout.jsonl"


def test_taxonomy_has_the_required_operations_with_enough_examples() -> None:
    ops = default_operations()
    names = [op["name"] for op in ops]
    assert len(ops) >= 12
    assert len(set(names)) == len(names)
    assert set(names) >= REQUIRED
    for op in ops:
        examples = [str(x) for x in op["examples"]]
        assert len(set(examples)) >= 30, op["name"]
        assert str(op["description"]).strip(), op["name"]
    assert len(builtin_out_of_scope()) >= 20


@pytest.mark.parametrize(
    "name", ["operations_heldout.jsonl", "operations_blind.jsonl", "operations_blind2.jsonl"]
)
def test_heldout_sets_are_independent_of_the_taxonomy(name: str) -> None:
    rows = [json.loads(line) for line in (DATA / name).read_text("utf-8").splitlines() if line]
    labels = {r["label"] for r in rows}
    assert labels == {op["name"] for op in default_operations()} | {"oos"}
    training = {t.strip().lower() for t in config_examples(load_config(environ={}))[0]}
    assert not [r["text"] for r in rows if r["text"].strip().lower() in training]


def test_out_of_scope_examples_only_with_the_builtin_operations() -> None:
    _, labels = config_examples(load_config(environ={}))
    assert labels.count(REJECT_LABEL) == len(builtin_out_of_scope())
    custom = [{"name": "greet", "examples": ["hello there", "good morning"]}]
    _, labels = config_examples(load_config(environ={}, overrides={"operations": custom}))
    assert REJECT_LABEL not in labels
    _, forced = config_examples(
        load_config(environ={}, overrides={"operations": custom}), out_of_scope=True
    )
    assert REJECT_LABEL in forced


def _reject_model() -> TrainedClassifier:
    texts = [f"translate this sentence into {x}" for x in ("french", "german", "italian")] * 4
    texts += [f"fix the crash in module {x}" for x in ("a.py", "b.py", "c.py")] * 4
    texts += [f"tell me a {x} joke please" for x in ("funny", "silly", "short")] * 4
    labels = ["translate"] * 12 + ["fix-bug"] * 12 + [REJECT_LABEL] * 12
    return train_classifier(texts, labels, backend="tfidf", seed=0)


def test_the_reject_class_answers_unknown_and_is_never_an_alternative() -> None:
    model = _reject_model()
    assert model.reject_index is not None
    c = model.classify_text("tell me a funny joke")
    assert c.operation == UNKNOWN
    assert REJECT_LABEL not in {op for op, _ in c.alternatives}
    kept = model.classify_text("fix the crash in module d.py")
    assert kept.operation == "fix-bug"
    assert REJECT_LABEL not in {op for op, _ in kept.alternatives}
    probs = model.predict_proba(["tell me a silly joke"])[0]
    assert model.labels[int(np.argmax(probs))] == REJECT_LABEL


def test_evaluate_counts_the_reject_class_as_unknown() -> None:
    model = _reject_model()
    r = evaluate(
        model,
        ["tell me a short joke", "fix the crash in module e.py"],
        ["oos", "fix-bug"],
        latency_samples=1,
    )
    assert r["oos_recall"] == 1.0
    assert r["closed_accuracy"] == 1.0


def test_eval_trains_on_the_taxonomy(tmp_path: Path) -> None:
    test = tmp_path / "t.jsonl"
    rows = [("Translate this paragraph into Polish.", "translate"), ("book a taxi", "oos")]
    test.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows))
    out = tmp_path / "r.json"
    args = ["classify", "eval", "--taxonomy", "--test", str(test), "--json", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["n_train"] == len(config_examples(load_config(environ={}))[0])
    assert doc["n_oos"] == 1
    bad = CliRunner().invoke(cli, [*args[:3], "--train", str(test), *args[3:]])
    assert bad.exit_code != 0
