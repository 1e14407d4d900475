"""`switchtower bench`: the routing benchmark (see ``docs/benchmark.md``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from switchtower.cli.common import exits_on_error, writable

__all__ = ["DATASETS", "bench", "default_data_dir"]

#: ``--dataset`` shortcuts: name -> (train files, test files), relative to the data dir
DATASETS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "routerbench": (
        ("routerbench/arc_challenge_train.csv", "routerbench/mbpp_train.csv"),
        ("routerbench/arc_challenge_test.csv", "routerbench/mbpp_test.csv"),
    ),
    "routellm": (
        ("routellm/gsm8k/gsm8k_responses.csv", "routellm/mt_bench/judgements.jsonl"),
        ("routellm/gsm8k/gsm8k_responses.csv", "routellm/mt_bench/judgements.jsonl"),
    ),
}


def _mixed() -> tuple[tuple[str, ...], tuple[str, ...]]:
    rb, rl = DATASETS["routerbench"], DATASETS["routellm"]
    return (rb[0] + rl[0], rb[1] + rl[1])


def default_data_dir() -> Path:
    """``$SWITCHTOWER_DATA_DIR``, else ``../shared/data``; routing files live in ``routing/``."""
    return Path(os.environ.get("SWITCHTOWER_DATA_DIR", "../shared/data"))


def _resolve(data_dir: Path, rel: Sequence[str]) -> list[str]:
    root = data_dir / "routing" if (data_dir / "routing").is_dir() else data_dir
    return [str(root / r) for r in rel]


@click.command()
@click.option(
    "--train",
    "train_files",
    multiple=True,
    type=click.Path(exists=True),
    help="Train file(s): RouterBench CSV or RouteLLM files (format detected).",
)
@click.option(
    "--test",
    "test_files",
    multiple=True,
    type=click.Path(exists=True),
    help="Test file(s). For RouteLLM files the fixed hash split picks the half.",
)
@click.option(
    "--dataset",
    type=click.Choice(["routerbench", "routellm", "mixed"]),
    default=None,
    help="Shortcut for the public files in --data-dir.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Shared data directory (default: $SWITCHTOWER_DATA_DIR or ../shared/data).",
)
@click.option(
    "--mode", type=click.Choice(["offline", "online"]), default="offline", show_default=True
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="Online mode: simulated days (the nightly loop runs after each).",
)
@click.option(
    "--drift",
    default=None,
    metavar="DATASET",
    help="Online mode: this dataset's items arrive only from --drift-day on (a new "
    "operation mid-stream); reports the nights until it is routed as well as the rest.",
)
@click.option(
    "--drift-day", type=click.IntRange(min=2), default=None, help="Default: the middle day."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--deadline-mix",
    default="0.25,0.25,0.5",
    show_default=True,
    help="Shares of interactive,soon,batch deadlines.",
)
@click.option(
    "--local-cost",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="USD per million tokens for local (open-weight) models.",
)
@click.option(
    "--classifier",
    default="auto",
    show_default=True,
    help="Classifier registry name (trained on the train split's prompts).",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the result JSON here.",
)
@click.option(
    "--plot",
    "plot_out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the cost-quality plot (PNG) here.",
)
@exits_on_error
def bench(  # noqa: PLR0917 (one parameter per click option)
    train_files: tuple[str, ...],
    test_files: tuple[str, ...],
    dataset: str | None,
    data_dir: Path | None,
    mode: str,
    days: int,
    drift: str | None,
    drift_day: int | None,
    seed: int,
    deadline_mix: str,
    local_cost: float,
    classifier: str,
    json_out: str | None,
    plot_out: str | None,
) -> None:
    """Replay recorded model outcomes through the real pipeline and score the routing."""
    from switchtower.bench.loaders import load_files
    from switchtower.bench.plot import plot_curve
    from switchtower.bench.runner import BenchOptions, run_offline, run_online
    from switchtower.bench.workload import DeadlineMix, select_split

    train_paths, test_paths = list(train_files), list(test_files)
    if dataset is not None:
        root = data_dir or default_data_dir()
        tr, te = _mixed() if dataset == "mixed" else DATASETS[dataset]
        train_paths += _resolve(root, tr)
        test_paths += _resolve(root, te)
    if not train_paths or not test_paths:
        raise click.UsageError("give --train and --test files, or --dataset")
    if (drift is not None or drift_day is not None) and mode != "online":
        raise click.UsageError("--drift and --drift-day apply to --mode online")
    for out in (json_out, plot_out):  # fail now, not after the whole run
        if out:
            writable(out)
    missing = [p for p in (*train_paths, *test_paths) if not Path(p).exists()]
    if missing:
        raise click.UsageError(
            f"no such file: {missing[0]} (the data folder: --data-dir or $SWITCHTOWER_DATA_DIR)"
        )
    mix = DeadlineMix.parse(deadline_mix)
    train = select_split(load_files(train_paths, mix=mix), "train")
    test = select_split(load_files(test_paths, mix=mix), "test")
    options = BenchOptions(
        mode="online" if mode == "online" else "offline",
        seed=seed,
        mix=mix,
        local_per_mtok=local_cost,
        classifier=classifier,
        days=days,
        drift=drift,
        drift_day=drift_day,
    )
    run = run_online if mode == "online" else run_offline
    result = run(train, test, options)
    click.echo(result.table())
    data = result.to_json()
    data["files"] = {"train": train_paths, "test": test_paths}
    if json_out:
        Path(json_out).write_text(json.dumps(data, indent=1) + "\n", "utf-8")
        click.echo(f"wrote {json_out}")
    if plot_out:
        plot_curve(data, plot_out)
        click.echo(f"wrote {plot_out}")
