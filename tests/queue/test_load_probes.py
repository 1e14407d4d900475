"""Load probes: queued work also waits while the model's server reports other clients'
work (llama-server ``/slots``, vLLM ``/metrics``), against a fake server speaking both
formats; a probe that cannot tell leaves the worker to its own view."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fakes.openai_upstream import FakeOpenAI
from fakes.threaded import ThreadedServer
from server.harness import build_pipeline, gateway_config
from switchtower.config.schema import Config, ModelConfig
from switchtower.errors import ConfigError
from switchtower.pipeline import Pipeline
from switchtower.protocols import ModelInfo
from switchtower.queue import JobStore, QueueWorker
from switchtower.queue.probes import LlamaCppSlots, VllmMetrics, build_probes, probe_url
from switchtower.store import SqlTraceStore
from switchtower.types import Request, Selection

FAST = {"linger_s": 0.0, "poll_s": 0.01, "rescue_margin_s": 0.0}
QUEUED = "fake-queued"  # upstream model id "queued-small" on the fake


class LocalServer:
    """What a llama-server / vLLM process says about its load: ``busy`` requests of
    ``model`` (and ``other`` of another model, vLLM only) out of 4 slots."""

    def __init__(self) -> None:
        self.busy = 0
        self.other = 0
        self.model = "queued-small"
        self.legacy = False  # llama-server builds before is_processing: "state"
        self.status = 200
        self.server = ThreadedServer(
            Starlette(routes=[Route("/slots", self.slots), Route("/metrics", self.metrics)]),
            name="local server",
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"

    async def slots(self, request: HttpRequest) -> Response:
        if self.status != 200:  # llama-server --no-slots answers 501
            return JSONResponse({"error": {"code": self.status}}, status_code=self.status)
        out: list[dict[str, Any]] = []
        for i in range(4):
            working = i < self.busy
            slot: dict[str, Any] = {"id": i, "n_ctx": 4096, "speculative": False}
            if self.legacy:
                slot["state"] = 1 if working else 0
            else:
                slot["is_processing"] = working
            out.append(slot)
        return JSONResponse(out)

    async def metrics(self, request: HttpRequest) -> Response:
        registry = CollectorRegistry()
        running = Gauge("vllm:num_requests_running", "Running.", ["model_name"], registry=registry)
        waiting = Gauge("vllm:num_requests_waiting", "Waiting.", ["model_name"], registry=registry)
        running.labels(self.model).set(min(self.busy, 2))
        waiting.labels(self.model).set(max(self.busy - 2, 0))
        running.labels("another/model").set(self.other)
        Gauge("vllm:gpu_cache_usage_perc", "KV.", ["model_name"], registry=registry).labels(
            self.model
        ).set(0.5)
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")


@pytest.fixture
def local() -> Iterator[LocalServer]:
    server = LocalServer()
    server.server.start()
    yield server
    server.server.stop()


def info(base_url: str | None = "http://127.0.0.1:9/v1") -> ModelInfo:
    spec = ModelConfig(name=QUEUED, provider="openai", model="queued-small", base_url=base_url)
    return ModelInfo(QUEUED, "async", "openai", "queued-small", 4096, 0.0, 0.0, spec=spec)


def test_the_probe_url_comes_from_the_base_url_unless_given() -> None:
    assert probe_url(info("http://gpu-1:8080/v1"), "/slots", None) == "http://gpu-1:8080/slots"
    assert probe_url(info("http://gpu-1:8000/v1/"), "/metrics", None) == (
        "http://gpu-1:8000/metrics"
    )
    assert probe_url(info("http://gpu-1:8000"), "/metrics", None) == "http://gpu-1:8000/metrics"
    assert probe_url(info(None), "/slots", "http://x/slots") == "http://x/slots"
    assert probe_url(info(None), "/slots", None) is None


@pytest.mark.parametrize("legacy", [False, True])
async def test_llamacpp_slots_count_the_slots_at_work(local: LocalServer, legacy: bool) -> None:
    local.legacy = legacy
    probe = LlamaCppSlots(local.url("/slots"))
    assert await probe.load(info()) == 0
    local.busy = 3
    assert await probe.load(info()) == 3


async def test_vllm_metrics_count_running_and_waiting_of_this_model(local: LocalServer) -> None:
    probe = VllmMetrics(local.url("/metrics"))
    local.other = 5  # another model on the same server: not ours
    assert await probe.load(info()) == 0
    local.busy = 3  # 2 running + 1 waiting
    assert await probe.load(info()) == 3
    local.model = "some/other-name"  # the samples name no model of ours
    assert await probe.load(info()) is None


async def test_a_probe_that_cannot_tell_answers_none(
    local: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    local.status = 501
    with caplog.at_level(logging.WARNING, logger="switchtower.queue.probes"):
        assert await LlamaCppSlots(local.url("/slots")).load(info()) is None
        assert await VllmMetrics(local.url("/slots")).load(info()) is None  # not metrics
        assert await LlamaCppSlots(local.url("/metrics")).load(info()) is None  # not JSON
        assert await LlamaCppSlots("http://127.0.0.1:9/slots").load(info()) is None
        assert await LlamaCppSlots().load(info(None)) is None
    assert "load probe" in caplog.text


def test_probes_are_built_from_the_entries_config() -> None:
    spec = ModelConfig(
        name=QUEUED, provider="openai", load_probe={"name": "vllm", "options": {"url": "u"}}
    )
    m = replace(info(), spec=spec)
    probes = build_probes([m, info()], Config())
    assert list(probes) == [QUEUED]
    assert isinstance(probes[QUEUED], VllmMetrics)
    assert probes[QUEUED].url == "u"  # type: ignore[attr-defined]
    bad = replace(m, spec=ModelConfig(name=QUEUED, provider="openai", load_probe="ollama"))
    with pytest.raises(ConfigError, match=r"load_probe: unknown load_probes 'ollama'"):
        build_probes([bad], Config())


# -- the worker -----------------------------------------------------------------------------


def probed_pipeline(
    fake: FakeOpenAI, traces: SqlTraceStore, url: str, probe: dict[str, Any], **queue: Any
) -> Pipeline:
    """The queued-work test pipeline with ``probe`` as the queued entry's load probe."""
    raw = gateway_config(fake, None, batch=True, queue={**FAST, **queue}).model_dump()
    for m in raw["tiers"]["async"]["models"]:
        if m["name"] == QUEUED:
            m["load_probe"] = probe
    return build_pipeline(Config.model_validate(raw), traces, JobStore.open(url))


def submit(pipe: Pipeline) -> str:
    request = Request.from_text("summarize the notes", deadline="soon", accept_deferred=True)
    selection = Selection(model=QUEUED, tier="async", estimate=0.9)
    return pipe.submit(replace(pipe.plan(request), selection=selection)).id


async def test_queued_work_waits_while_the_server_reports_other_clients_work(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str, local: LocalServer
) -> None:
    probe = {"name": "llamacpp", "options": {"url": local.url("/slots")}}
    pipe = probed_pipeline(fake_openai, traces, url, probe)
    job_id = submit(pipe)
    assert pipe.jobs is not None
    worker = QueueWorker(pipe, pipe.jobs)
    local.busy = 1  # another replica's client is on the hardware
    report = await worker.tick()
    assert (report.held, report.started) == (1, 0)
    assert fake_openai.requests == []
    local.busy = 0
    report = await worker.tick()
    assert (report.held, report.started) == (0, 1)
    await worker.drain()
    done = pipe.jobs.get(job_id)
    assert done is not None
    assert done.status == "completed"
    await pipe.aclose()


async def test_the_workers_own_jobs_do_not_hold_back_its_next_one(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str, local: LocalServer
) -> None:
    """The server's count includes the jobs this worker already runs: only work beyond
    this process's own calls holds the next job back."""
    probe = {"name": "vllm", "options": {"url": local.url("/metrics")}}
    pipe = probed_pipeline(fake_openai, traces, url, probe, queued_concurrency=3)
    assert pipe.jobs is not None
    fake_openai.delay(1.0, model="queued-small")
    fake_openai.delay(1.0, model="queued-small")
    worker = QueueWorker(pipe, pipe.jobs)
    ids = [submit(pipe)]
    assert (await worker.tick()).started == 1
    queued = pipe.model(QUEUED)
    while pipe.executor.busy(queued) < 1:
        await asyncio.sleep(0.01)
    local.busy = 1  # the server sees our first job, and nothing else
    ids.append(submit(pipe))
    report = await worker.tick()
    assert (report.held, report.started) == (0, 1)
    while pipe.executor.busy(queued) < 2:
        await asyncio.sleep(0.01)
    local.busy = 3  # our two, and someone else's
    ids.append(submit(pipe))
    report = await worker.tick()
    assert (report.held, report.started) == (1, 0)
    await worker.drain()
    local.busy = 0
    assert (await worker.tick()).started == 1
    await worker.drain()
    for job_id in ids:
        job = pipe.jobs.get(job_id)
        assert job is not None
        assert job.status == "completed"
    await pipe.aclose()


async def test_a_probe_that_cannot_tell_leaves_the_worker_to_its_own_view(
    fake_openai: FakeOpenAI, traces: SqlTraceStore, url: str
) -> None:
    probe = {"name": "llamacpp", "options": {"url": "http://127.0.0.1:9/slots"}}
    pipe = probed_pipeline(fake_openai, traces, url, probe)
    assert pipe.jobs is not None
    job_id = submit(pipe)
    worker = QueueWorker(pipe, pipe.jobs)
    report = await worker.tick()
    assert (report.held, report.started) == (0, 1)
    await worker.drain()
    job = pipe.jobs.get(job_id)
    assert job is not None
    assert job.status == "completed"
    await pipe.aclose()
