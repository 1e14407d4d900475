"""`jobs` (deferred requests and their answers) and `worker` (the queue worker)."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import click

from switchtower.cli.common import config_option, echo_json, exits_on_error, load, run_async
from switchtower.pipeline import Pipeline
from switchtower.queue import JOB_STATUSES, Job, JobStore, QueueWorker

__all__ = ["job_commands", "job_line"]


def job_line(job: Job) -> str:
    due = f"deadline {job.deadline_at - job.created_at:,.0f}s after submit"
    batch = f" batch {job.batch_id}" if job.batch_id else ""
    return f"{job.id}  {job.status:<10} {job.trace.operation:<20} {job.model}{batch}  ({due})"


def _details(job: Job) -> dict[str, Any]:
    out = job.to_json()
    completion = job.completion
    if completion is not None:
        out["answer"] = completion.text
        out["answered_by"] = completion.model
        out["cost_usd"] = completion.cost_usd
    return out


@click.command()
@click.argument("job_id", required=False)
@click.option("--status", type=click.Choice(JOB_STATUSES), default=None)
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@config_option
@exits_on_error
def jobs(
    job_id: str | None, status: str | None, limit: int, as_json: bool, config_path: str | None
) -> None:
    """Deferred requests (answered later by a provider batch API or as queued work), or
    one in full by id."""
    store = JobStore.open(load(config_path).storage.url)
    try:
        if job_id:
            job = store.get(job_id)
            if job is None:
                click.echo(f"error: no job {job_id!r}", err=True)
                sys.exit(1)
            details = _details(job)
            if as_json:
                echo_json(details)
            else:
                click.echo("\n".join(f"{k}: {v}" for k, v in details.items()))
            return
        rows = store.recent(status=status, limit=limit)
        if as_json:
            echo_json([j.to_json() for j in rows])
        elif not rows:
            click.echo("no jobs")
        else:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(store.counts().items()))
            click.echo("\n".join(job_line(j) for j in rows) + f"\n({counts})")
    finally:
        store.close()


@click.command()
@click.option(
    "--once",
    is_flag=True,
    help="One pass (rescue, run queued work, submit, poll), wait for the queued work "
    "it started, then exit.",
)
@config_option
@exits_on_error
def worker(once: bool, config_path: str | None) -> None:
    """Run the job queue's worker: send due jobs as provider batches, poll them, store the
    answers, and run queued work while its hardware is idle (``serve`` runs one itself
    unless ``queue.worker`` is false)."""

    async def go() -> None:
        pipeline = Pipeline.from_config(load(config_path))
        try:
            if pipeline.jobs is None:
                raise click.ClickException("no job store: check storage.url")
            queue = QueueWorker(pipeline, pipeline.jobs)
            if once:
                report = await queue.tick()
                await queue.drain()
                report.add(queue.background)  # the queued work it started, now finished
                click.echo(f"worker pass: {report}")
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            click.echo("queue worker running (Ctrl-C stops)", err=True)
            await queue.run(stop)
        finally:
            await pipeline.aclose()

    run_async(go())


job_commands = (jobs, worker)
