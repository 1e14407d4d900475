"""The queue worker: sends due jobs as provider batches, polls them, stores answers,
answers from the planned fallbacks what a batch could not answer in time, and runs
queued work when its hardware is idle.

One :meth:`QueueWorker.tick` does, in order:

1. **release**: jobs claimed by a worker that died (lease run out) are queued again;
2. **rescue**: jobs still waiting ``rescue_margin_s`` before their deadline are answered
   now (a queued entry's job by its own model first, then the fallbacks; a batch job by
   its fallbacks), so a slow batch or a busy local server does not miss the deadline; a
   provider batch left with no unanswered job is cancelled;
3. **run queued work**: per queued entry (an async-tier model that answers inline, e.g.
   a local model), while no other call is in flight on its endpoint in this process
   and its server's ``load_probe`` (if any) reports no other work, up to
   ``queued_concurrency`` of its jobs start, nearest deadline first. They run as tasks
   beside the loop (:meth:`QueueWorker.drain` waits for them);
4. **submit**: per batch model, the queued jobs go out as one batch once ``max_batch``
   wait or the oldest waited ``linger_s`` (a failed submission is retried after
   ``poll_s``);
5. **poll**: each submitted batch is asked for its state every ``poll_s``; when it has
   ended, every answer is stored with its trace, and every request it did not answer is
   answered by the fallbacks (or fails, with the reason, when none can);
6. **notify**: finished jobs that named a webhook have their signed event sent
   (``webhooks.py``), concurrently, failed deliveries again later with backoff.

Database calls run in a thread (``asyncio.to_thread``), so a worker inside the gateway
never blocks its event loop on a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from switchtower.config.schema import QueueConfig
from switchtower.errors import AllModelsFailedError, SwitchtowerError
from switchtower.protocols import BatchProvider, LoadProbe, ModelInfo
from switchtower.queue.jobs import Job, completion_to_json
from switchtower.queue.probes import build_probes
from switchtower.queue.store import JobStore
from switchtower.queue.webhooks import Delivery, WebhookSender, retry_delay
from switchtower.tracing import settle_trace
from switchtower.types import Attempt, BatchItemResult, Completion, Trace

if TYPE_CHECKING:
    from switchtower.pipeline import Pipeline

__all__ = ["QueueWorker", "TickReport"]

log = logging.getLogger(__name__)

#: on stop, how long the worker waits for the queued-work jobs it started
_DRAIN_S = 10.0
#: webhook events sent at once per tick
_NOTIFY_BATCH = 50


@dataclass
class TickReport:
    """What one tick did (counts of jobs, and of batches sent and polled)."""

    released: int = 0
    rescued: int = 0
    #: queued-work jobs started (they finish in the background)
    started: int = 0
    #: queued entries held back because their server reported other clients' work
    held: int = 0
    batches_submitted: int = 0
    jobs_submitted: int = 0
    batches_polled: int = 0
    batches_cancelled: int = 0
    completed: int = 0
    failed: int = 0
    #: webhook events delivered, and attempts that failed (tried again later or given up)
    notified: int = 0
    notify_failed: int = 0

    def busy(self) -> bool:
        return any(vars(self).values())

    def add(self, other: TickReport) -> None:
        for name, n in vars(other).items():
            setattr(self, name, getattr(self, name) + n)

    def __str__(self) -> str:
        """``started 1, completed 1``: the counts that are not zero."""
        done = [f"{name.replace('_', ' ')} {n}" for name, n in vars(self).items() if n]
        return ", ".join(done) or "nothing to do"


class QueueWorker:
    """Moves jobs of ``jobs`` through their batches, using ``pipeline``'s providers."""

    def __init__(
        self,
        pipeline: Pipeline,
        jobs: JobStore,
        config: QueueConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        webhooks: WebhookSender | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.jobs = jobs
        self.config = config or pipeline.config.queue
        self.clock = clock
        #: raises ConfigError here, at start, when webhooks are on without a secret
        self.webhooks = webhooks or WebhookSender(self.config.webhooks, clock=clock)
        #: queued-work jobs running, by endpoint
        self._running: dict[tuple[str, str | None, str], set[asyncio.Task[None]]] = {}
        #: what the queued-work jobs started by this worker did once they finished
        self.background = TickReport()
        #: queued entry -> the probe that asks its server for its load (``load_probe``)
        self._probes: dict[str, LoadProbe] = build_probes(pipeline.queued_models, pipeline.config)

    # -- the loop ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, interval_s: float | None = None) -> None:
        """Tick until ``stop`` is set (every second, or every ``poll_s`` when shorter); a
        failing tick is logged, never fatal."""
        if interval_s is None:
            interval_s = min(1.0, self.config.poll_s)
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception:
                    log.exception("queue worker tick failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval_s)
        finally:
            await self.drain(timeout_s=_DRAIN_S)
            await self.webhooks.aclose()

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for the queued-work jobs this worker started; after ``timeout_s`` cancel
        the rest (their claims run out and another worker runs them again)."""
        tasks = {t for ts in self._running.values() for t in ts}
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def tick(self) -> TickReport:
        report = TickReport()
        report.released = await asyncio.to_thread(self.jobs.release_expired)
        await self._rescue(report)
        await self._run_queued(report)
        await self._submit(report)
        await self._poll(report)
        await self._notify(report)
        if report.busy():
            log.info("queue tick: %s", report)
        return report

    # -- steps ------------------------------------------------------------------------

    def _batch_model(self, name: str) -> tuple[ModelInfo, BatchProvider]:
        info = self.pipeline.model(name)
        provider = self.pipeline.providers.get(info.provider)
        if not isinstance(provider, BatchProvider):
            raise SwitchtowerError(f"model {name!r}: provider {info.provider!r} sends no batches")
        return info, provider

    async def _rescue(self, report: TickReport) -> None:
        late = await asyncio.to_thread(
            self.jobs.claim_late,
            margin_s=self.config.rescue_margin_s,
            lease_s=self.config.lease_s,
        )
        batches: dict[str, str] = {}
        for job in late:
            report.rescued += 1
            queued = bool(self.pipeline.inline_models((job.model,)))  # queued work
            waited = "the hardware was not idle" if queued else "the batch has not answered"
            await self._answer_inline(job, (), f"the deadline is near and {waited}", report)
            if job.batch_id is not None:
                batches[job.batch_id] = job.model
        for batch_id, model in batches.items():
            await self._cancel_if_answered(model, batch_id, report)

    async def _cancel_if_answered(self, model: str, batch_id: str, report: TickReport) -> None:
        """Cancel a provider batch once every job in it has been answered elsewhere, so
        the provider stops working (and billing) on answers nobody will read."""
        if await asyncio.to_thread(self.jobs.batch_active, batch_id):
            return  # some of its jobs still wait for it
        try:
            info, provider = self._batch_model(model)
            await provider.cancel_batch(info, batch_id)
        except Exception as exc:  # e.g. it ended meanwhile: nothing is lost
            log.warning("could not cancel batch %s (%s): %s", batch_id, model, exc)
            return
        report.batches_cancelled += 1
        log.info("cancelled batch %s (%s): every job in it was answered", batch_id, model)

    async def _run_queued(self, report: TickReport) -> None:
        """Start queued-work jobs on every queued entry whose endpoint is idle here."""
        for info in self.pipeline.queued_models:
            mine = self._running.setdefault(info.endpoint, set())
            here = self.pipeline.executor.busy(info)
            free = self.config.queued_concurrency - len(mine)
            if here > len(mine) or free <= 0:
                continue  # a client is waiting on this hardware, or ours is full
            health = self.pipeline.executor.health
            if health.open_reason(info) is not None:
                report.held += 1  # its server keeps failing: wait out the cool-down
                continue
            if health.on_trial(info):
                free = 1  # back from a cool-down: one job tries it, the rest wait
            if await self._busy_elsewhere(info, here):
                report.held += 1
                continue
            claimed = await asyncio.to_thread(
                self.jobs.claim_queued, info.name, limit=free, lease_s=self.config.lease_s
            )
            for job in claimed:
                task = asyncio.create_task(self._run_job(job), name=f"switchtower-job-{job.id}")
                mine.add(task)
                task.add_done_callback(mine.discard)
                report.started += 1

    async def _busy_elsewhere(self, info: ModelInfo, here: int) -> bool:
        """True when the entry's server reports more work than this process's own calls
        to it (``here``): another replica's or client's. No probe, or no answer: False."""
        probe = self._probes.get(info.name)
        if probe is None:
            return False
        load = await probe.load(info)
        return load is not None and load > here

    async def _run_job(self, job: Job) -> None:
        report = TickReport()
        try:
            await self._answer_inline(job, (), "queued work", report)
        except Exception:  # the claim runs out and the job is run again
            log.exception("queued job %s could not be answered", job.id)
            return
        self.background.add(report)
        outcome = "completed" if report.completed else "failed" if report.failed else "done already"
        log.info("queued job %s: %s", job.id, outcome)

    async def _submit(self, report: TickReport) -> None:
        groups = await asyncio.to_thread(
            self.jobs.claim_due,
            linger_s=self.config.linger_s,
            max_batch=self.config.max_batch,
            lease_s=self.config.lease_s,
            models=[m.name for m in self.pipeline.batch_models],
        )
        for group in groups:
            ids = [j.id for j in group]
            try:
                info, provider = self._batch_model(group[0].model)
                batch_id = await provider.submit_batch(info, [(j.id, j.request) for j in group])
            except Exception as exc:
                log.warning("could not submit %d jobs for %s: %s", len(ids), group[0].model, exc)
                await asyncio.to_thread(
                    self.jobs.requeue, ids, not_before=self.clock() + self.config.poll_s
                )
                continue
            await asyncio.to_thread(
                self.jobs.mark_submitted,
                ids,
                batch_id,
                next_poll_at=self.clock() + self.config.poll_s,
            )
            report.batches_submitted += 1
            report.jobs_submitted += len(ids)

    async def _poll(self, report: TickReport) -> None:
        for model, batch_id in await asyncio.to_thread(self.jobs.due_batches):
            try:
                info, provider = self._batch_model(model)
                poll = await provider.poll_batch(info, batch_id)
            except Exception as exc:
                log.warning("could not poll batch %s (%s): %s", batch_id, model, exc)
                await asyncio.to_thread(
                    self.jobs.next_poll, batch_id, self.clock() + self.config.poll_s
                )
                continue
            report.batches_polled += 1
            if not poll.ended:
                await asyncio.to_thread(
                    self.jobs.next_poll, batch_id, self.clock() + self.config.poll_s
                )
                continue
            answers = {r.custom_id: r for r in poll.results}
            unanswered: list[tuple[str, BatchItemResult | None]] = []
            for job in await asyncio.to_thread(self.jobs.batch_jobs, batch_id):
                result = answers.get(job.id)
                if result is not None and result.completion is not None:
                    await self._store(job, result.completion, [], report)
                else:
                    unanswered.append((job.id, result))
            if unanswered:
                await self._answer_unanswered(info, poll.detail, unanswered, report)

    async def _answer_unanswered(
        self,
        info: ModelInfo,
        detail: str,
        unanswered: Sequence[tuple[str, BatchItemResult | None]],
        report: TickReport,
    ) -> None:
        reasons = dict(unanswered)
        claimed = await asyncio.to_thread(
            self.jobs.claim_running, list(reasons), lease_s=self.config.lease_s
        )
        for job in claimed:
            r = reasons.get(job.id)
            attempt = self._batch_attempt(job, info, None, r, detail)
            why = r.error_message if r is not None and r.error_message else f"batch {detail}"
            await self._answer_inline(job, (attempt,), f"the batch gave no answer ({why})", report)

    async def _notify(self, report: TickReport) -> None:
        """Send the due webhook events at once; record each attempt."""
        cfg = self.config.webhooks
        due = await asyncio.to_thread(
            self.jobs.claim_notifications, limit=_NOTIFY_BATCH, lease_s=cfg.timeout_s + 30.0
        )
        if not due:
            return
        sent = await asyncio.gather(
            *(self.webhooks.send(job) for job in due), return_exceptions=True
        )
        for job, outcome in zip(due, sent, strict=True):
            if isinstance(outcome, BaseException):  # a bug in sending: give this one up
                log.error("webhook of job %s", job.id, exc_info=outcome)
            delivery = (
                Delivery(f"{type(outcome).__name__}: {outcome}"[:500])
                if isinstance(outcome, BaseException)
                else outcome
            )
            await self._notified(job, delivery, report)

    async def _notified(self, job: Job, delivery: Delivery, report: TickReport) -> None:
        attempts = job.notify_attempts + 1
        retry_at = None
        if delivery.ok:
            report.notified += 1
        else:
            report.notify_failed += 1
            if delivery.retry and attempts < self.config.webhooks.max_attempts:
                retry_at = self.clock() + retry_delay(attempts)
            then = "trying again later" if retry_at is not None else "giving up"
            log.warning(
                "webhook of job %s, attempt %d: %s; %s", job.id, attempts, delivery.error, then
            )
        await asyncio.to_thread(self.jobs.notified, job.id, error=delivery.error, retry_at=retry_at)

    # -- answers ----------------------------------------------------------------------

    def _batch_attempt(
        self,
        job: Job,
        info: ModelInfo,
        completion: Completion | None,
        result: BatchItemResult | None,
        detail: str = "",
    ) -> Attempt:
        """The batch as one attempt: answered (tokens, discounted cost) or not (why)."""
        base = Attempt(
            model=info.name,
            provider=info.provider,
            tier=info.tier,
            started_at=job.created_at,
            latency_ms=(self.clock() - job.created_at) * 1000.0,
            ok=completion is not None,
        )
        if completion is not None:
            return replace(base, usage=completion.usage, cost_usd=completion.cost_usd)
        return replace(
            base,
            error_kind=(result.error_kind if result is not None else None) or "upstream",
            error_message=(result.error_message if result is not None else None)
            or f"no answer in the batch ({detail})",
            status=result.status if result is not None else None,
        )

    async def _store(
        self, job: Job, completion: Completion, before: Sequence[Attempt], report: TickReport
    ) -> None:
        info = self.pipeline.model(job.model)
        attempts = [*before, self._batch_attempt(job, info, completion, None)]
        await self._finish(job, completion, attempts, report)

    async def _answer_inline(
        self, job: Job, before: Sequence[Attempt], why: str, report: TickReport
    ) -> None:
        """Answer now: a queued entry's job from its own model first, then from the
        fallbacks (a batch entry never answers inline); fail the job when none can."""
        candidates = self.pipeline.inline_models((job.model, *job.fallbacks))
        if not candidates:
            await self._fail(job, before, "no_eligible_model", f"{why}; no fallback can answer")
            report.failed += 1
            return
        try:
            completion = await self.pipeline.executor.execute(job.request, candidates)
        except AllModelsFailedError as exc:
            await self._fail(job, [*before, *exc.attempts], exc.kind, f"{why}; {exc}")
            report.failed += 1
            return
        await self._finish(job, completion, [*before, *completion.attempts], report)

    def _trace(
        self,
        job: Job,
        completion: Completion | None,
        attempts: Sequence[Attempt],
        kind: str | None = None,
    ) -> Trace:
        """The job's planned trace completed: latency from the request to now."""
        latency_ms = (self.clock() - job.created_at) * 1000.0 + job.trace.latency_ms
        return settle_trace(
            job.trace,
            completion,
            attempts,
            latency_ms,
            frontier=self.pipeline.recorder.frontier,
            error_kind=kind,
            outcome=self.pipeline.recorder.score(job.request, completion),
        )

    async def _finish(
        self, job: Job, completion: Completion, attempts: Sequence[Attempt], report: TickReport
    ) -> None:
        trace = self._trace(job, completion, attempts)
        stored = await asyncio.to_thread(
            self.jobs.finish, job.id, trace, result=completion_to_json(completion)
        )
        if stored:
            report.completed += 1

    async def _fail(self, job: Job, attempts: Sequence[Attempt], kind: str, message: str) -> None:
        trace = self._trace(job, None, attempts, kind)
        await asyncio.to_thread(
            self.jobs.finish, job.id, trace, error_kind=kind, error_message=message
        )
