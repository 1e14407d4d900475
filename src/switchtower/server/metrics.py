"""Prometheus metrics for one gateway app (its own registry: no global state).

switchtower_http_requests_total{route, method, status}
switchtower_http_request_duration_seconds{route}          histogram (to the last byte)
switchtower_routed_requests_total{tier, operation}         tier share
switchtower_spend_usd_total{tier, model}                   USD spent upstream
switchtower_counterfactual_spend_usd_total                 the same tokens at the frontier
switchtower_errors_total{kind}                             by error kind
switchtower_checks_total{verdict}                          second opinions, by verdict
switchtower_trace_write_failures_total                     traces the store refused
switchtower_trace_queue_depth                              traces waiting to be written
switchtower_deferred_requests_total{model}                 requests accepted as jobs (202)
switchtower_jobs{status}                                   jobs in the job store, read per scrape
switchtower_model_circuit_open{model}                      1 while a model is out (health.py)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from switchtower.nightly.scoring import quality_of
from switchtower.queue.jobs import JOB_STATUSES
from switchtower.types import Trace

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

log = logging.getLogger(__name__)

_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


class _FailureCollector(Collector):
    def __init__(self, read: Callable[[], float]) -> None:
        self._read = read

    def collect(self) -> list[CounterMetricFamily]:
        family = CounterMetricFamily(
            "switchtower_trace_write_failures",
            "Traces that could not be written to the trace store.",
        )
        family.add_metric([], self._read())
        return [family]


class _JobsCollector(Collector):
    """Jobs by status, counted in the job store at scrape time (so every replica reports
    the shared queue); nothing when the store does not answer."""

    def __init__(self, read: Callable[[], Mapping[str, int]]) -> None:
        self._read = read

    def collect(self) -> list[GaugeMetricFamily]:
        try:
            counts = self._read()
        except Exception as exc:  # a scrape never fails on the database
            log.warning("job counts unavailable for /metrics: %s", exc)
            return []
        family = GaugeMetricFamily(
            "switchtower_jobs", "Jobs in the job store, by status.", labels=["status"]
        )
        for status in JOB_STATUSES:
            family.add_metric([status], counts.get(status, 0))
        return [family]


class _CircuitCollector(Collector):
    """1 for each model whose circuit is open now (this process's view)."""

    def __init__(self, read: Callable[[], Mapping[str, str]]) -> None:
        self._read = read

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "switchtower_model_circuit_open",
            "Models taken out of routing after failures in a row, until their cool-down ends.",
            labels=["model"],
        )
        for model in sorted(self._read()):
            family.add_metric([model], 1.0)
        return [family]


class GatewayMetrics:
    """The gateway's counters and histograms, registered in a private registry."""

    def __init__(
        self,
        *,
        trace_failures: Callable[[], float] = lambda: 0.0,
        trace_queue: Callable[[], float] = lambda: 0.0,
        job_counts: Callable[[], Mapping[str, int]] | None = None,
        circuits: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "switchtower_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "switchtower_http_request_duration_seconds",
            "Time from request start to the last byte of the response.",
            ["route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.routed = Counter(
            "switchtower_routed_requests",
            "Traced requests by the tier and operation that served them (tier share).",
            ["tier", "operation"],
            registry=r,
        )
        self.spend = Counter(
            "switchtower_spend_usd",
            "USD spent on upstream models.",
            ["tier", "model"],
            registry=r,
        )
        self.counterfactual = Counter(
            "switchtower_counterfactual_spend_usd",
            "What the same tokens would have cost on the most expensive real-time model.",
            registry=r,
        )
        self.errors = Counter(
            "switchtower_errors",
            "Errors returned to clients, by kind.",
            ["kind"],
            registry=r,
        )
        self.checks = Counter(
            "switchtower_checks",
            "Answers checked against a second opinion, by verdict.",
            ["verdict"],
            registry=r,
        )
        self.cache_hits = Counter(
            "switchtower_cache_hits",
            "Requests answered from the response cache (free), by operation.",
            ["operation"],
            registry=r,
        )
        self.outcomes = Counter(
            "switchtower_outcomes",
            "Answers judged as they came (scoring/: contract checks, second opinions), by "
            "source, model and result (success or failure).",
            ["source", "model", "result"],
            registry=r,
        )
        self.deferred = Counter(
            "switchtower_deferred_requests",
            "Requests accepted as jobs (HTTP 202: a batch API or queued work), by model.",
            ["model"],
            registry=r,
        )
        queue = Gauge(
            "switchtower_trace_queue_depth",
            "Traces waiting for the background writer.",
            registry=r,
        )
        queue.set_function(trace_queue)
        r.register(_FailureCollector(trace_failures))
        if job_counts is not None:
            r.register(_JobsCollector(job_counts))
        if circuits is not None:
            r.register(_CircuitCollector(circuits))

        # the labelled children, looked up once per label set (``labels()`` validates,
        # locks and builds a key on every call)
        self._children: dict[tuple[Counter | Histogram, tuple[str, ...]], Any] = {}

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._child(self.requests, route, method, str(status)).inc()
        self._child(self.latency, route).observe(seconds)

    def observe_trace(self, trace: Trace) -> None:
        self._child(self.routed, trace.tier, trace.operation).inc()
        if trace.cost_usd > 0:
            self._child(self.spend, trace.tier, trace.model).inc(trace.cost_usd)
        if trace.counterfactual_cost_usd > 0:
            self.counterfactual.inc(trace.counterfactual_cost_usd)
        checked = trace.decision.get("verification")
        if checked:
            self._child(self.checks, str(checked.get("verdict"))).inc()
        if "cache" in trace.decision:
            self._child(self.cache_hits, trace.operation).inc()
        quality = quality_of(trace)
        if quality is not None and trace.outcome is not None:
            result = "success" if quality >= 0.5 else "failure"
            self._child(self.outcomes, trace.outcome.source, trace.model, result).inc()

    def observe_deferred(self, model: str) -> None:
        self._child(self.deferred, model).inc()

    def observe_error(self, kind: str) -> None:
        self._child(self.errors, kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
