from __future__ import annotations

from pathlib import Path

import pytest

from switchtower.classify import TrainedClassifier
from switchtower.config.load import load_config
from switchtower.errors import RegistryError, SwitchtowerError
from switchtower.plugins import load_builtins
from switchtower.registries import classifiers
from switchtower.types import Request


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHTOWER_CACHE_DIR", str(tmp_path / "cache"))


def test_auto_is_registered_and_trains_from_config(tmp_path: Path) -> None:
    load_builtins()
    assert {"auto", "tfidf", "embed", "hybrid"} <= set(classifiers.names())
    config = load_config(environ={})
    clf = classifiers.create("auto", config=config, **config.classifier.options)
    c = clf.classify(Request.from_text("Write a Python function that reverses a list."))
    assert c.operation == "write-code"
    # the trained artifact is cached by a hash of the examples and reused
    cached = list((tmp_path / "cache" / "classifier").iterdir())
    assert len(cached) == 1
    again = classifiers.create("auto", config=config)
    assert isinstance(again, TrainedClassifier)
    assert again.info["examples_sha256"] == clf.info["examples_sha256"]  # type: ignore[attr-defined]


def test_artifact_from_config_and_threshold_option(
    taxonomy_model: TrainedClassifier, tmp_path: Path
) -> None:
    load_builtins()
    path = taxonomy_model.save(tmp_path / "artifact")
    config = load_config(environ={}, overrides={"classifier": {"artifact": str(path)}})
    clf = classifiers.create("auto", config=config, unknown_threshold=0.999)
    c = clf.classify(Request.from_text("Who wrote Hamlet?"))
    assert c.is_unknown or c.confidence >= 0.999


def test_user_operations_replace_the_taxonomy() -> None:
    load_builtins()
    ops = [
        {"name": "greet", "examples": ["hello there", "hi, how are you", "good morning"]},
        {"name": "farewell", "examples": ["goodbye", "see you later", "bye for now"]},
    ]
    config = load_config(environ={}, overrides={"operations": ops})
    clf = classifiers.create("tfidf", config=config, cache=False)
    assert clf.classify(Request.from_text("bye, see you")).operation in {"farewell", "unknown"}
    assert set(clf.labels) == {"greet", "farewell"}  # type: ignore[attr-defined]


def test_one_operation_is_a_working_config() -> None:
    """A team that defines a single operation gets a gateway (everything in scope is that
    operation; empty text is unknown), not a start-up failure."""
    load_builtins()
    ops = [{"name": "extract-data", "description": "pull out fields"}]
    config = load_config(environ={}, overrides={"operations": ops})
    clf = classifiers.create("tfidf", config=config, cache=False)
    assert clf.classify(Request.from_text("pull the fields out of this invoice")).operation == (
        "extract-data"
    )
    assert clf.classify(Request.from_text("   ")).operation == "unknown"


def test_bad_options_are_reported() -> None:
    load_builtins()
    config = load_config(environ={})
    with pytest.raises((RegistryError, SwitchtowerError)):
        classifiers.create("auto", config=config, backend="nope", cache=False)


def test_a_text_rule_change_retrains_instead_of_reusing_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from switchtower.classify import text

    load_builtins()
    ops = [
        {"name": "greet", "examples": ["hello there", "hi, how are you", "good morning"]},
        {"name": "farewell", "examples": ["goodbye", "see you later", "bye for now"]},
    ]
    config = load_config(environ={}, overrides={"operations": ops})
    classifiers.create("tfidf", config=config)
    monkeypatch.setattr(text, "INSTRUCTION_REPEATS", text.INSTRUCTION_REPEATS + 1)
    classifiers.create("tfidf", config=config)
    assert len(list((tmp_path / "cache" / "classifier").iterdir())) == 2
