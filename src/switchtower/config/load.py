"""Build the :class:`Config`: built-in defaults, then the YAML file, then environment.

Environment overrides use ``SWITCHTOWER_<SECTION>__<KEY>[__<KEY>...]=value`` (values are
parsed as YAML scalars), e.g. ``SWITCHTOWER_STORAGE__URL`` or
``SWITCHTOWER_ROUTER__SUCCESS_THRESHOLD=0.7``. ``SWITCHTOWER_CONFIG`` names the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from switchtower.config.schema import Config
from switchtower.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "ENV_PREFIX",
    "default_operations",
    "find_config_file",
    "load_config",
    "starter_text",
]

DEFAULT_CONFIG_NAME = "switchtower.yaml"
ENV_PREFIX = "SWITCHTOWER_"


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {exc}", file=source) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of keys", file=source)
    return data


@cache
def _starter_template() -> str:
    return resources.files("switchtower.config").joinpath("starter.yaml").read_text("utf-8")


@cache
def _taxonomy_data() -> tuple[dict[str, Any], ...]:
    """The built-in operation taxonomy (``switchtower/classify/taxonomy.yaml``)."""
    text = resources.files("switchtower.classify").joinpath("taxonomy.yaml").read_text("utf-8")
    data = _read_yaml(text, "switchtower/classify/taxonomy.yaml")
    ops = data.get("operations", [])
    return tuple(ops)


def default_operations() -> list[dict[str, Any]]:
    return [dict(o) for o in _taxonomy_data()]


def starter_text() -> str:
    """What ``switchtower init`` writes: the commented defaults plus the taxonomy."""
    ops = yaml.safe_dump(
        {"operations": default_operations()}, sort_keys=False, allow_unicode=True, width=88
    )
    return _starter_template() + ops


def _defaults() -> dict[str, Any]:
    return _read_yaml(_starter_template(), "<built-in defaults>")


def find_config_file(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The file to read: the argument, else ``$SWITCHTOWER_CONFIG``, else ./switchtower.yaml."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError("no such config file", file=str(p))
        return p
    env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if env:
        p = Path(env)
        if not p.is_file():
            raise ConfigError(f"no such config file (from {ENV_PREFIX}CONFIG)", file=str(p))
        return p
    p = Path(DEFAULT_CONFIG_NAME)
    return p if p.is_file() else None


def _env_variables(environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Config path -> the environment variable that sets it."""
    return {
        tuple(part.lower() for part in key[len(ENV_PREFIX) :].split("__") if part): key
        for key in environ
        if key.startswith(ENV_PREFIX) and "__" in key
    }


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX) :].split("__") if part]
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {key} conflicts with another", key=key)
        node[path[-1]] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists included) replaces."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _format_loc(loc: tuple[int | str, ...]) -> str:
    s = ""
    for part in loc:
        s += f"[{part}]" if isinstance(part, int) else (f".{part}" if s else str(part))
    return s


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Defaults, then the file, then the environment, then ``overrides`` (CLI flags).

    Raises :class:`ConfigError` naming the file, the key and what is wrong.
    """
    environ = os.environ if environ is None else environ
    data = _defaults()
    file = find_config_file(path)
    source = str(file) if file else "<built-in defaults>"
    if file is not None:
        try:
            text = file.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc}", file=source) from exc
        data = _merge(data, _read_yaml(text, source))
    data = _merge(data, _env_overrides(environ))
    if overrides:
        data = _merge(data, overrides)
    if not data.get("operations"):
        data["operations"] = default_operations()
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        key = _format_loc(loc) or "<root>"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        for keys, variable in _env_variables(environ).items():
            if loc[: len(keys)] == keys:  # the value came from the environment, not the file
                source = f"environment variable {variable}"
        raise ConfigError(f"{first['msg']}{more}", file=source, key=key) from exc
