"""`init`, `route`, `run`, `traces`, `report`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from switchtower.cli.common import config_option, echo_json, exits_on_error, load, run_async
from switchtower.cli.demo import demo
from switchtower.cli.render import render_decision, render_result
from switchtower.config import starter_text
from switchtower.pipeline import Pipeline
from switchtower.types import DEADLINES, TIERS, Request

__all__ = ["core_commands"]


def _request_options(f: Any) -> Any:
    f = click.option(
        "--deadline",
        type=click.Choice(DEADLINES),
        default="interactive",
        show_default=True,
        help="How long the answer may take: interactive (10 s), soon (5 min), batch (24 h).",
    )(f)
    f = click.option("--operation", default=None, help="Skip the classifier: this operation.")(f)
    f = click.option("--tier", type=click.Choice(TIERS), default=None, help="Pin a tier.")(f)
    f = click.option("--max-tier", type=click.Choice(TIERS), default=None)(f)
    f = click.option(
        "--value-per-success-usd",
        type=click.FloatRange(min=0.0, min_open=True),
        default=None,
        help="What a successful answer is worth (USD): route by the value rule.",
    )(f)
    f = click.option(
        "--async",
        "accept_deferred",
        is_flag=True,
        help="Take a job id when routing picks a provider batch API or queued local work "
        "(see `switchtower jobs`).",
    )(f)
    return click.option("--model", default=None, help="A configured model: bypasses routing.")(f)


def _read_text(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def _build_request(text: str, **hints: Any) -> Request:
    return Request.from_text(
        _read_text(text),
        deadline=hints["deadline"],
        operation=hints["operation"],
        pinned_tier=hints["tier"],
        max_tier=hints["max_tier"],
        value_per_success_usd=hints.get("value_per_success_usd"),
        model=hints["model"],
        params=hints.get("params") or {},
        accept_deferred=bool(hints.get("accept_deferred")),
    )


@click.command()
@click.option("--path", default="switchtower.yaml", show_default=True, type=click.Path())
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, force: bool) -> None:
    """Write a commented starter config (the built-in defaults)."""
    p = Path(path)
    if p.exists() and not force:
        click.echo(f"error: {p} exists (use --force to overwrite)", err=True)
        sys.exit(2)
    p.write_text(starter_text(), encoding="utf-8")
    click.echo(f"wrote {p}")


@click.command()
@click.argument("text")
@_request_options
@click.option("--json", "as_json", is_flag=True, help="Print the decision as one JSON object.")
@config_option
@exits_on_error
def route(text: str, as_json: bool, config_path: str | None, **hints: Any) -> None:
    """Dry run: classify, extract signals, route and select. No model is called.

    TEXT is the request ("-" reads standard input).
    """
    pipeline = Pipeline.from_config(load(config_path), store=None)
    decision = pipeline.plan(_build_request(text, **hints), assume_available=True)
    missing = pipeline.unavailable(decision)
    if as_json:
        out = decision.to_json()
        out["executable"] = decision.selection.model not in missing
        out["unavailable"] = missing
        echo_json(out)
    else:
        click.echo(render_decision(decision))
        for name, why in missing.items():
            click.echo(f"note       {name} cannot be called here: {why}")


@click.command()
@click.argument("text")
@_request_options
@click.option("--max-tokens", type=int, default=None, help="Cap the answer's length.")
@click.option("--json", "as_json", is_flag=True)
@config_option
@exits_on_error
def run(
    text: str, max_tokens: int | None, as_json: bool, config_path: str | None, **hints: Any
) -> None:
    """Route TEXT and execute it on the chosen model; the trace is stored."""
    params = {"max_tokens": max_tokens} if max_tokens else {}
    request = _build_request(text, params=params, **hints)

    async def go() -> Any:
        pipeline = Pipeline.from_config(load(config_path))
        try:
            decision = pipeline.plan_to_serve(request)
            if pipeline.defers(decision):
                job = pipeline.submit(decision)
                batch = pipeline.model(job.model).batch
                return job, "a provider batch API" if batch else "queued work, run when idle"
            return await pipeline.execute(decision)
        finally:
            await pipeline.aclose()

    result = run_async(go())
    if isinstance(result, tuple):
        job, kind = result
        if as_json:
            echo_json(job.to_json())
        else:
            click.echo(
                f"queued as job {job.id} for {job.model} ({kind}); "
                f"`switchtower jobs {job.id}` shows its answer once the worker has it"
            )
        return
    if as_json:
        out = result.decision.to_json()
        c = result.completion
        out.update(
            trace_id=result.trace_id,
            answer=c.text if c else None,
            answered_by=c.model if c else None,
            cost_usd=c.cost_usd if c else 0.0,
            latency_ms=round(result.latency_ms, 2),
        )
        echo_json(out)
    else:
        click.echo(render_result(result))


@click.command()
@click.argument("trace_id", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@config_option
@exits_on_error
def traces(trace_id: str | None, limit: int, as_json: bool, config_path: str | None) -> None:
    """Recent traces, or one trace in full by id."""
    from switchtower.store import open_store
    from switchtower.store.format import format_trace, format_trace_table, trace_to_json

    store = open_store(load(config_path).storage.url)
    if trace_id:
        trace = store.get(trace_id)
        if trace is None:
            click.echo(f"error: no trace {trace_id!r}", err=True)
            sys.exit(1)
        if as_json:
            echo_json(trace_to_json(trace))
        else:
            click.echo(format_trace(trace))
        return
    rows = store.recent(limit)
    if as_json:
        echo_json([trace_to_json(t) for t in rows])
    else:
        click.echo(format_trace_table(rows) if rows else "no traces yet")


@click.command()
@click.option(
    "--days",
    type=click.FloatRange(min=0.0, min_open=True),
    default=30,
    show_default=True,
    help="Look back this many days.",
)
@click.option("--json", "as_json", is_flag=True)
@config_option
@exits_on_error
def report(days: float, as_json: bool, config_path: str | None) -> None:
    """Spend by tier, operation and day, and what routing saved."""
    from switchtower.store import open_store
    from switchtower.store.report import build_report, format_report

    store = open_store(load(config_path).storage.url)
    rep = build_report(store, since=time.time() - days * 86400.0)
    if as_json:
        echo_json(rep.to_json())
    else:
        click.echo(format_report(rep))


core_commands: tuple[click.Command, ...] = (init, route, run, traces, report, demo)
