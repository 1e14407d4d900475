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
from pathlib import Path
from typing import Any

from switchtower.classify.embed import embed_available
from switchtower.classify.model import TrainedClassifier, load
from switchtower.classify.train import examples_digest, train_classifier
from switchtower.config.schema import Config
from switchtower.errors import ConfigError, DataFormatError
from switchtower.registries import classifiers

__all__ = ["build_classifier", "cache_dir", "config_examples"]

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """``$SWITCHTOWER_CACHE_DIR``, else ``$XDG_CACHE_HOME/switchtower``, else ~/.cache."""
    env = os.environ.get("SWITCHTOWER_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "switchtower"


def config_examples(config: Config) -> tuple[list[str], list[str]]:
    """Training pairs from the configured operations (each example, and the description)."""
    texts: list[str] = []
    labels: list[str] = []
    for op in config.operations:
        for text in (*op.examples, op.description):
            if text.strip():
                texts.append(text)
                labels.append(op.name)
    return texts, labels


def build_classifier(
    config: Config,
    *,
    backend: str = "tfidf",
    unknown_threshold: float | None = None,
    cache: bool = True,
    seed: int = 0,
    **train_options: Any,
) -> TrainedClassifier:
    """Load ``config.classifier.artifact``, or train from the configured operations."""
    if config.classifier.artifact:
        model = load(config.classifier.artifact)
    else:
        texts, labels = config_examples(config)
        if not texts:
            raise ConfigError(
                "no operation has examples or a description to train on", key="operations"
            )
        key = examples_digest(texts, labels, backend=backend, seed=seed, **train_options)
        where = cache_dir() / "classifier" / key[:24]
        cached = _cached(where) if cache else None
        if cached is not None:
            model = cached
        else:
            model = train_classifier(texts, labels, backend=backend, seed=seed, **train_options)
            if cache:
                try:
                    model.save(where)
                except OSError as exc:  # a cache is an observer: never break the request
                    log.warning("could not cache the classifier in %s: %s", where, exc)
    if unknown_threshold is not None:
        model = model.with_threshold(unknown_threshold)
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
