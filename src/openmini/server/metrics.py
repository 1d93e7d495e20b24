"""Prometheus metrics, one `CollectorRegistry` per app (no global registry)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmini.backends.base import Backend
from openmini.router import Router
from openmini.types import Done, Event, TextDelta

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class BackendCollector(Collector):
    """Gauges read from `backend.stats()` at scrape time."""

    def __init__(self, backend: Backend | Router):
        self.backend = backend

    def collect(self) -> Iterator[Metric]:
        s = self.backend.stats()
        hit_rate = s.cache_hit_tokens / s.cache_lookup_tokens if s.cache_lookup_tokens else 0.0
        yield GaugeMetricFamily("openmini_queue_depth", "Requests waiting for a sequence.",
                                value=s.queue_depth)
        yield GaugeMetricFamily("openmini_running_sequences", "Sequences being decoded.",
                                value=s.running)
        yield GaugeMetricFamily("openmini_batch_size", "Sequences in the last decode step.",
                                value=s.batch_size)
        yield GaugeMetricFamily("openmini_prefix_cache_hit_rate",
                                "Prompt tokens served from the prefix cache / looked up.",
                                value=hit_rate)


class DeploymentCollector(Collector):
    """Per deployment (router/deployment.py), read at scrape time: requests, errors by
    kind, requests in flight, latency to the first event, tokens, breaker state."""

    STATES = ("closed", "open", "half_open")

    def __init__(self, router: Router):
        self.router = router

    def collect(self) -> Iterator[Metric]:
        deps = list(self.router.deployments.values())
        requests = CounterMetricFamily("openmini_deployment_requests",
                                       "Requests sent to a deployment (retries included).",
                                       labels=["deployment"])
        errors = CounterMetricFamily("openmini_deployment_errors",
                                     "Failed requests by deployment and kind.",
                                     labels=["deployment", "kind"])
        tokens = CounterMetricFamily("openmini_deployment_tokens", "Tokens by deployment.",
                                     labels=["deployment", "type"])
        inflight = GaugeMetricFamily("openmini_deployment_outstanding",
                                     "Requests in flight.", labels=["deployment"])
        latency = GaugeMetricFamily("openmini_deployment_latency_seconds",
                                    "Moving average of the time to the first event.",
                                    labels=["deployment"])
        breaker = GaugeMetricFamily("openmini_deployment_breaker_state",
                                    "1 for the breaker's current state.",
                                    labels=["deployment", "state"])
        for d in deps:
            requests.add_metric([d.id], d.requests)
            for kind, count in sorted(d.errors.items()):
                errors.add_metric([d.id, kind], count)
            tokens.add_metric([d.id, "prompt"], d.prompt_tokens)
            tokens.add_metric([d.id, "completion"], d.completion_tokens)
            inflight.add_metric([d.id], d.outstanding)
            latency.add_metric([d.id], d.latency_s)
            state = d.breaker.state
            for s in self.STATES:
                breaker.add_metric([d.id, s], 1.0 if s == state else 0.0)
        yield from (requests, errors, tokens, inflight, latency, breaker)


class Metrics:
    def __init__(self, backend: Backend | Router):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("openmini_requests", "HTTP requests by endpoint and status.",
                                ["endpoint", "status"], registry=r)
        self.prompt_tokens = Counter("openmini_prompt_tokens", "Prompt tokens.", registry=r)
        self.completion_tokens = Counter("openmini_completion_tokens", "Completion tokens.",
                                         registry=r)
        self.ttft = Histogram("openmini_time_to_first_token_seconds", "Time to first token.",
                              buckets=TTFT_BUCKETS, registry=r)
        self.latency = Histogram("openmini_request_duration_seconds",
                                 "Request latency (to the last byte).", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        r.register(BackendCollector(backend))
        if isinstance(backend, Router):
            r.register(DeploymentCollector(backend))

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def metered(events: AsyncIterator[Event], metrics: Metrics,
                  start: float) -> AsyncGenerator[Event, None]:
    """Pass events through, recording TTFT (first non-empty delta) and token usage."""
    first = True
    try:
        async for event in events:
            if first and isinstance(event, TextDelta) and event.text:
                metrics.ttft.observe(time.perf_counter() - start)
                first = False
            elif isinstance(event, Done):
                metrics.prompt_tokens.inc(event.usage.prompt_tokens)
                metrics.completion_tokens.inc(event.usage.completion_tokens)
            yield event
    finally:
        await events.aclose()  # type: ignore[attr-defined]


def endpoint_label(scope: Scope, routes: list[BaseRoute]) -> str:
    """The route template (bounded label values); 'unmatched' for unknown paths."""
    route = scope.get("route")
    if route is None:  # rejected before routing (e.g. auth): match it ourselves
        route = next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)
    return getattr(route, "path", "unmatched")


class MetricsMiddleware:
    """Counts requests by endpoint and status and times them to the last byte."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: list[BaseRoute]):
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), "499"  # no response at all: the client left

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            endpoint = endpoint_label(scope, self.routes)
            self.metrics.requests.labels(endpoint, status).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
