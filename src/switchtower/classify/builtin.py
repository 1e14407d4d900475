"""Register the built-in classifiers, exactly as a plugin would.

Factories take ``config`` plus ``classifier.options``:

* ``auto`` (default): the fast ``tfidf`` backend unless ``backend`` names another
  (``embed``, ``hybrid``, or ``best``: hybrid when the embedding extra is installed).
* ``tfidf``, ``embed``, ``hybrid``: that backend.

With ``config.classifier.artifact`` set, the artifact is loaded; otherwise the
classifier trains from ``config.operations`` (examples plus description) and caches
the artifact under the user cache directory, keyed by a hash of the examples.
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from switchtower.classify.embed import MiniLMEncoder, embed_available
from switchtower.classify.model import REJECT_LABEL, TrainedClassifier, load
from switchtower.classify.train import examples_digest, train_classifier
from switchtower.config.schema import Config
from switchtower.errors import ConfigError, DataFormatError
from switchtower.registries import classifiers

__all__ = ["build_classifier", "builtin_out_of_scope", "cache_dir", "config_examples"]

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """``$SWITCHTOWER_CACHE_DIR``, else ``$XDG_CACHE_HOME/switchtower``, else ~/.cache."""
    env = os.environ.get("SWITCHTOWER_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "switchtower"


def _taxonomy() -> dict[str, Any]:
    text = resources.files("switchtower.classify").joinpath("taxonomy.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return data if isinstance(data, dict) else {}


def builtin_out_of_scope() -> list[str]:
    """The taxonomy's ``out_of_scope`` examples: requests that are not agent work."""
    return [str(x) for x in _taxonomy().get("out_of_scope") or [] if str(x).strip()]


def config_examples(
    config: Config, *, out_of_scope: bool | None = None
) -> tuple[list[str], list[str]]:
    """Training pairs from the configured operations (each example, and the description).

    ``out_of_scope`` adds the built-in out-of-scope examples as the :data:`REJECT_LABEL`
    class; ``None`` (default) adds them when the configured operations include every
    built-in operation (the taxonomy, used or extended), since custom operations may
    cover what the built-in list calls out of scope.
    """
    texts: list[str] = []
    labels: list[str] = []
    for op in config.operations:
        for text in (*op.examples, op.description):
            if text.strip():
                texts.append(text)
                labels.append(op.name)
    if out_of_scope is None:
        builtin = {str(op.get("name")) for op in _taxonomy().get("operations") or []}
        out_of_scope = bool(builtin) and builtin <= {op.name for op in config.operations}
    if out_of_scope and texts:
        extra = builtin_out_of_scope()
        texts.extend(extra)
        labels.extend([REJECT_LABEL] * len(extra))
    return texts, labels


def build_classifier(
    config: Config,
    *,
    backend: str = "tfidf",
    unknown_threshold: float | None = None,
    cache: bool = True,
    seed: int = 0,
    out_of_scope_examples: bool | None = None,
    runtime: str = "auto",
    precision: str = "int8",
    **train_options: Any,
) -> TrainedClassifier:
    """Load ``config.classifier.artifact``, or train from the configured operations
    (plus the built-in out-of-scope examples: see :func:`config_examples`)."""
    if config.classifier.artifact:
        model = load(config.classifier.artifact)  # its encoder precision is recorded
    else:
        model = _trained(
            config, backend, cache, seed, out_of_scope_examples, runtime, precision, train_options
        )
    if unknown_threshold is not None:
        model = model.with_threshold(unknown_threshold)
    return model


def _trained(  # noqa: PLR0917
    config: Config,
    backend: str,
    cache: bool,
    seed: int,
    out_of_scope_examples: bool | None,
    runtime: str,
    precision: str,
    train_options: dict[str, Any],
) -> TrainedClassifier:
    """Train from the configured operations, through the artifact cache."""
    texts, labels = config_examples(config, out_of_scope=out_of_scope_examples)
    if not texts:
        raise ConfigError(
            "no operation has examples or a description to train on", key="operations"
        )
    embed = {"runtime": runtime, "precision": precision} if backend != "tfidf" else {}
    key = examples_digest(texts, labels, backend=backend, seed=seed, **embed, **train_options)
    where = cache_dir() / "classifier" / key[:24]
    cached = _cached(where) if cache else None
    if cached is not None:
        return cached
    encoder = MiniLMEncoder(runtime=runtime, precision=precision) if embed else None
    model = train_classifier(
        texts, labels, backend=backend, seed=seed, encoder=encoder, **train_options
    )
    if cache:
        try:
            model.save(where)
        except OSError as exc:  # a cache is an observer: never break the request
            log.warning("could not cache the classifier in %s: %s", where, exc)
    return model


def _cached(where: Path) -> TrainedClassifier | None:
    if not (where / "classifier.json").is_file():
        return None
    try:
        return load(where)
    except DataFormatError as exc:
        log.warning("ignoring a broken cached classifier in %s: %s", where, exc)
        return None


def _backend_factory(backend: str) -> Any:
    def factory(*, config: Config, **options: Any) -> TrainedClassifier:
        return build_classifier(config, backend=backend, **options)

    factory.__name__ = f"{backend}_classifier"
    factory.__doc__ = f"The {backend!r} classifier backend."
    return factory


@classifiers.register("auto")
def auto_classifier(*, config: Config, backend: str = "tfidf", **options: Any) -> TrainedClassifier:
    """The best available backend: ``tfidf`` unless told otherwise (``best`` = hybrid if
    the embedding extra is installed, else tfidf)."""
    if backend == "best":
        backend = "hybrid" if embed_available() else "tfidf"
    return build_classifier(config, backend=backend, **options)


for _name in ("tfidf", "embed", "hybrid"):
    classifiers.add(_name, _backend_factory(_name))
