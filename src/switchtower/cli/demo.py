"""`switchtower demo`: route a built-in sample of agent requests end to end."""

from __future__ import annotations

import time
from typing import Any

import click

from switchtower.cli.common import config_option, exits_on_error, load, run_async
from switchtower.cli.render import render_decision
from switchtower.errors import SwitchtowerError
from switchtower.pipeline import Pipeline
from switchtower.types import Deadline, Request

__all__ = ["SAMPLE_REQUESTS", "demo"]

#: a small, varied sample of what agents send: (deadline, request)
SAMPLE_REQUESTS: tuple[tuple[Deadline, str], ...] = (
    ("interactive", "Draft a short, friendly reply to Sam thanking him for the quick review."),
    ("batch", "Translate 'The deployment finished without errors' into French."),
    (
        "soon",
        "Summarize this note in one sentence: the team agreed to move standup to 10am "
        "and to rotate the on-call schedule weekly starting next Monday.",
    ),
    ("interactive", "What is the capital of Australia?"),
    ("batch", "Extract the email addresses from: contact ana@example.com or ops@example.org."),
    ("interactive", "Write a Python function that returns the n-th Fibonacci number."),
    ("soon", "Fix the bug in parse_config() in src/config/loader.py that drops empty keys."),
    (
        "interactive",
        "Run the migration that drops the legacy users table on the production "
        "database, then force-push the release branch.",
    ),
    (
        "batch",
        "Review the authentication middleware for JWT signature bypasses and rotate the "
        "leaked API secret.",
    ),
    (
        "batch",
        "Plan the steps to split the monolith into three services: first extract the "
        "billing module, then migrate its tables, then switch traffic, then delete the old code.",
    ),
)


@click.command()
@click.option("--max-tokens", default=48, show_default=True, help="Cap each local answer.")
@click.option("--no-execute", is_flag=True, help="Only route; call no model.")
@config_option
@exits_on_error
def demo(max_tokens: int, no_execute: bool, config_path: str | None) -> None:
    """Route a built-in sample of agent requests; answer the ones that can run here."""
    run_async(_demo(load(config_path), max_tokens, no_execute))


async def _demo(config: Any, max_tokens: int, no_execute: bool) -> None:
    from switchtower.store.report import build_report, format_report

    pipeline = Pipeline.from_config(config)
    started = time.time()
    _print_tiers(pipeline)
    try:
        for i, (deadline, text) in enumerate(SAMPLE_REQUESTS, 1):
            request = Request.from_text(text, deadline=deadline, params={"max_tokens": max_tokens})
            click.secho(f"\n[{i}/{len(SAMPLE_REQUESTS)}] {text}", bold=True)
            try:
                decision = pipeline.plan(request) if no_execute else pipeline.plan_to_serve(request)
            except SwitchtowerError as exc:
                click.echo(f"not routed: {exc.kind}: {exc}")
                continue
            click.echo(render_decision(decision))
            if no_execute:
                continue
            try:
                result = await pipeline.execute(decision)
            except SwitchtowerError as exc:
                click.echo(f"not answered: {exc.kind}: {exc}")
                continue
            c = result.completion
            if c is not None:
                answer = " ".join(c.text.split())
                click.echo(f"answer     [{c.model}, {result.latency_ms:.0f} ms] {answer}")
    finally:
        await pipeline.aclose()
    if pipeline.store is not None and not no_execute:
        click.secho("\nSpend report (this demo run)", bold=True)
        click.echo(format_report(build_report(pipeline.store, since=started - 1)))


def _print_tiers(pipeline: Pipeline) -> None:
    click.secho("Tiers on this machine", bold=True)
    for tier, info in pipeline.tiers.items():
        for m in info.models:
            state = "available" if m.available else f"unavailable: {m.unavailable_reason}"
            click.echo(
                f"  {tier:<9} {m.name:<26} ${m.input_per_mtok:g}/${m.output_per_mtok:g} per M"
                f"  {state}"
            )
