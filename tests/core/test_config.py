"""Config: defaults, file, environment, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from switchtower.config import load_config, starter_text
from switchtower.errors import ConfigError, UnknownModelError, UnknownOperationError


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(environ={})
    assert set(cfg.tiers) == {"local", "async", "realtime"}
    assert len(cfg.operations) >= 12, "the built-in taxonomy applies when none is declared"
    assert all(op.examples for op in cfg.operations)


def test_starter_is_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `switchtower init` writes is exactly what applies with no file."""
    monkeypatch.chdir(tmp_path)
    builtin = load_config(None, environ={})
    path = tmp_path / "written.yaml"
    path.write_text(starter_text())
    assert load_config(path, environ={}) == builtin


def test_file_overrides_and_keeps_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "router": {"success_threshold": 0.65},
                "operations": [{"name": "triage", "examples": ["triage this ticket"]}],
            }
        )
    )
    cfg = load_config(path, environ={})
    assert cfg.router.success_threshold == 0.65
    assert [o.name for o in cfg.operations] == ["triage"]
    assert cfg.selector.confidence_threshold == 0.7  # untouched default
    assert "realtime" in cfg.tiers


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("storage:\n  url: sqlite:///a.db\n")
    env = {
        "SWITCHTOWER_STORAGE__URL": "postgresql+psycopg://postgres@127.0.0.1/test",
        "SWITCHTOWER_ROUTER__SUCCESS_THRESHOLD": "0.9",
        "UNRELATED": "x",
    }
    cfg = load_config(path, environ=env)
    assert cfg.storage.url.startswith("postgresql+psycopg://")
    assert cfg.router.success_threshold == 0.9


def test_a_bad_environment_override_names_its_variable_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("router:\n  success_threshold: 0.5\n")
    for env, key in (
        ({"SWITCHTOWER_ROUTER__SUCCES_THRESHOLD": "0.9"}, "router.succes_threshold"),
        ({"SWITCHTOWER_ROUTER__SUCCESS_THRESHOLD": "7"}, "router.success_threshold"),
    ):
        with pytest.raises(ConfigError) as err:
            load_config(path, environ=env)
        assert str(err.value).startswith(f"environment variable {next(iter(env))}: {key}: ")
    path.write_text("router:\n  success_threshold: 7\n")
    with pytest.raises(ConfigError, match=f"^{path}: router.success_threshold: "):
        load_config(path, environ={"SWITCHTOWER_STORAGE__URL": "sqlite:///x.db"})


def test_invalid_value_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("router:\n  success_threshold: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    msg = str(err.value)
    assert str(path) in msg
    assert "router.success_threshold" in msg


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("routr:\n  success_threshold: 0.5\n")
    with pytest.raises(ConfigError, match="routr"):
        load_config(path, environ={})


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("router:\n  guards: [\n")
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_config(path, environ={})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_experiment_must_name_known_models(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "operations": [{"name": "triage", "examples": ["x"]}],
                "selector": {
                    "experiments": [
                        {"name": "e", "operation": "triage", "arms": {"nope": 0.5, "gpt-4.1": 0.5}}
                    ]
                },
            }
        )
    )
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        load_config(path, environ={})


def test_lookups_raise_typed_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, environ={})
    with pytest.raises(UnknownModelError):
        cfg.model("no-such-model")
    with pytest.raises(UnknownOperationError):
        cfg.operation("no-such-op")
    tier, model = cfg.model("smollm2-135m")
    assert tier == "local"
    assert model.provider == "llamacpp"
