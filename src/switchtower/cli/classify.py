"""``switchtower classify``: classify a text, train an artifact, evaluate on a dataset."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from switchtower.cli.common import writable
from switchtower.errors import SwitchtowerError

__all__ = ["classify"]

_BACKENDS = ("tfidf", "embed", "hybrid")
F = TypeVar("F", bound=Callable[..., Any])


def _fail(exc: SwitchtowerError) -> click.ClickException:
    return click.ClickException(str(exc))


def _load_pairs(
    train: str | None, test: str | None, dataset: str | None, data_dir: str | None
) -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]] | None]:
    from switchtower.classify.evaluate import DATASETS, read_examples
    from switchtower.classify.evaluate import data_dir as resolve

    if dataset:
        root = resolve(data_dir)
        if not root.is_dir():
            raise click.ClickException(f"data directory {root} not found (set --data-dir)")
        return DATASETS[dataset](root)
    if not train:
        raise click.UsageError("give --train FILE (and --test FILE) or --dataset NAME")
    return read_examples(train, "train"), (read_examples(test, "test") if test else None)


def _dataset_options(f: F) -> F:
    """``--dataset`` and ``--data-dir``: the named public sets under the shared data."""
    f = click.option(
        "--data-dir", default=None, help="Root of the shared data (default ../shared/data)."
    )(f)
    return click.option("--dataset", type=click.Choice(["banking77", "clinc150"]), default=None)(f)


def _two_labels(labels: list[str]) -> None:
    """A classifier to train or evaluate from a file needs two labels (a gateway's config
    with one operation is fine: everything in scope is that operation)."""
    from switchtower.classify.model import REJECT_LABEL
    from switchtower.classify.train import OOS_LABELS
    from switchtower.errors import DataFormatError

    real = sorted({y for y in labels if y != REJECT_LABEL and y not in OOS_LABELS})
    if len(real) < 2:
        raise DataFormatError(
            f"the training data has {len(real)} label(s) ({', '.join(real) or 'none'}): a "
            "classifier needs at least two"
        )


def _training_options(f: F) -> F:
    """How to train: backend, shots per label, seed, assumed out-of-scope share."""
    f = click.option(
        "--oos-share",
        type=click.FloatRange(0.0, 0.95),
        default=0.2,
        show_default=True,
        help="Assumed share of out-of-scope traffic when tuning the unknown threshold.",
    )(f)
    f = click.option("--seed", type=int, default=0, show_default=True)(f)
    f = click.option(
        "--shots", type=click.IntRange(min=1), default=None, help="Sample N examples per label."
    )(f)
    return click.option(
        "--backend", type=click.Choice(_BACKENDS), default="tfidf", show_default=True
    )(f)


@click.group()
def classify() -> None:
    """The skill classifier: label requests, train artifacts, evaluate on datasets."""


@classify.command("text")
@click.argument("text")
@click.option("--artifact", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
def classify_text(text: str, artifact: str | None, config_path: str | None) -> None:
    """Classify TEXT with the configured (or given) classifier; prints JSON."""
    from switchtower.config.load import load_config
    from switchtower.plugins import load_builtins
    from switchtower.registries import classifiers
    from switchtower.types import Request

    try:
        overrides: dict[str, Any] = {"classifier": {"artifact": artifact}} if artifact else {}
        config = load_config(config_path, overrides=overrides)
        load_builtins()
        clf = classifiers.create(config.classifier.name, config=config, **config.classifier.options)
        c = clf.classify(Request.from_text(text))
    except SwitchtowerError as exc:
        raise _fail(exc) from exc
    click.echo(
        json.dumps(
            {
                "operation": c.operation,
                "confidence": round(c.confidence, 4),
                "alternatives": [[op, round(p, 4)] for op, p in c.alternatives],
                "backend": c.backend,
                "explanation": c.explanation,
            }
        )
    )


@classify.command("train")
@click.option("--train", "train_file", type=click.Path(exists=True, dir_okay=False))
@_dataset_options
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Train on the configured operations' examples (the default source).",
)
@_training_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Artifact directory to write.",
)
def train_cmd(  # noqa: PLR0917
    train_file: str | None,
    dataset: str | None,
    data_dir: str | None,
    config_path: str | None,
    backend: str,
    shots: int | None,
    seed: int,
    oos_share: float,
    out_dir: str,
) -> None:
    """Train a classifier and write its artifact (classifier.json + arrays.npz)."""
    from switchtower.classify.builtin import config_examples
    from switchtower.classify.evaluate import sample_shots
    from switchtower.classify.model import REJECT_LABEL
    from switchtower.classify.train import train_classifier
    from switchtower.config.load import load_config

    try:
        if train_file or dataset:
            (texts, labels), _ = _load_pairs(train_file, None, dataset, data_dir)
        else:
            texts, labels = config_examples(load_config(config_path))
        if shots:
            texts, labels = sample_shots(texts, labels, shots, seed)
        if train_file or dataset:  # a config with one operation is a working config
            _two_labels(labels)
        model = train_classifier(
            texts,
            labels,
            backend=backend,
            seed=seed,
            oos_share=oos_share,
            log=lambda m: click.echo(m, err=True),
        )
        path = model.save(out_dir)
    except SwitchtowerError as exc:
        raise _fail(exc) from exc
    operations = [label for label in model.labels if label != REJECT_LABEL]
    rejects = " plus an out-of-scope class" if len(operations) < len(model.labels) else ""
    click.echo(
        f"wrote {path} ({len(operations)} operations{rejects}, threshold {model.threshold:.3f})"
    )


@classify.command("eval")
@click.option("--train", "train_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--test", "test_file", type=click.Path(exists=True, dir_okay=False))
@_dataset_options
@click.option(
    "--taxonomy",
    is_flag=True,
    default=False,
    help="Train on the built-in operation taxonomy (examples plus descriptions).",
)
@click.option(
    "--train-config",
    "train_config",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Train on this config file's operations (examples plus descriptions).",
)
@_training_options
@click.option("--latency-samples", type=int, default=1000, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None)
def eval_cmd(  # noqa: PLR0917
    train_file: str | None,
    test_file: str | None,
    dataset: str | None,
    data_dir: str | None,
    taxonomy: bool,
    train_config: str | None,
    shots: int | None,
    backend: str,
    seed: int,
    oos_share: float,
    latency_samples: int,
    json_out: str | None,
) -> None:
    """Train on --train (or --taxonomy / --train-config), measure on --test
    (label `oos` = out of scope)."""
    from switchtower.classify.evaluate import evaluate, read_examples, sample_shots
    from switchtower.classify.train import train_classifier

    if not dataset and not test_file:
        raise click.UsageError("give --train FILE --test FILE, or --dataset NAME")
    if json_out:
        writable(json_out)  # before training, not after
    if sum(map(bool, (train_file, dataset, taxonomy, train_config))) > 1:
        raise click.UsageError("give one of --train, --dataset, --taxonomy, --train-config")
    try:
        if taxonomy or train_config:
            texts, labels = _config_pairs(train_config)
            test = read_examples(test_file, "test") if test_file else None
        else:
            (texts, labels), test = _load_pairs(train_file, test_file, dataset, data_dir)
        assert test is not None
        if shots:
            texts, labels = sample_shots(texts, labels, shots, seed)
        _two_labels(labels)
        started = time.perf_counter()
        model = train_classifier(
            texts,
            labels,
            backend=backend,
            seed=seed,
            oos_share=oos_share,
            log=lambda m: click.echo(m, err=True),
        )
        train_seconds = time.perf_counter() - started
        result = evaluate(model, test[0], test[1], latency_samples=latency_samples)
        size = _model_bytes(model)
    except SwitchtowerError as exc:
        raise _fail(exc) from exc
    result = {
        "dataset": dataset or Path(test_file or "").name,
        "backend": backend,
        "shots": shots,
        "seed": seed,
        "oos_share": oos_share,
        "n_train": len(texts),
        **result,
        "train_seconds": train_seconds,
        "model_bytes": size,
    }
    for key, value in result.items():
        click.echo(f"{key:24s} {value:.4f}" if isinstance(value, float) else f"{key:24s} {value}")
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=2) + "\n", "utf-8")


def _config_pairs(config_path: str | None) -> tuple[list[str], list[str]]:
    """Training pairs exactly as the ``auto`` classifier builds them: the built-in
    taxonomy (``config_path`` None) or that file's operations."""
    from switchtower.classify.builtin import config_examples
    from switchtower.config.load import default_operations, load_config
    from switchtower.config.schema import Config

    if config_path:
        return config_examples(load_config(config_path))
    return config_examples(Config.model_validate({"operations": default_operations()}))


def _model_bytes(model: Any) -> int:
    """Size of the saved artifact (the embedding model's own weights not included)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp) / "m")
        return sum(p.stat().st_size for p in path.iterdir())
