"""Prometheus metrics of one app, kept in the app's own registry so several apps never clash."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServiceMetrics:
    """Requests, errors, latency, batch sizes, queue depth and tokens translated."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "translator_http_requests", "HTTP requests answered, by route and status code.",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "translator_http_request_duration_seconds", "Time to answer an HTTP request, by route.",
            ["route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.errors = Counter(
            "translator_errors", "Error answers by kind (invalid, too_large, not_found, unauthorized, "
            "overloaded, timeout, internal, ...).", ["kind"], registry=self.registry,
        )
        self.batch_sentences = Histogram(
            "translator_batch_sentences", "Sentences per model call (after merging requests).",
            buckets=SIZE_BUCKETS, registry=self.registry,
        )
        self.batch_requests = Histogram(
            "translator_batch_requests", "Requests merged into one model call.",
            buckets=SIZE_BUCKETS, registry=self.registry,
        )
        self.batch_duration = Histogram(
            "translator_batch_duration_seconds", "Time of one model call.",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.queue_sentences = Gauge(
            "translator_queue_sentences", "Sentences waiting for the model.", registry=self.registry,
        )
        self.accepted_requests = Counter(
            "translator_accepted_requests", "Translation requests accepted into the queue (each gets an answer, "
            "also through a shutdown).", registry=self.registry,
        )
        self.worker_busy = Gauge(
            "translator_worker_busy", "1 while the model worker runs a batch, else 0.", registry=self.registry,
        )
        self.cancelled_sentences = Counter(
            "translator_cancelled_sentences", "Sentences dropped because their request timed out, its client "
            "hung up, or the server shut down.", registry=self.registry,
        )
        self.preemptions = Counter(
            "translator_preemptions", "Times a long batch handed the worker to waiting work between decoding "
            "steps.", registry=self.registry,
        )
        self.source_tokens = Counter(
            "translator_source_tokens", "Source pieces translated, by model.", ["model"], registry=self.registry,
        )
        self.sentences = Counter(
            "translator_sentences", "Sentences translated, by model.", ["model"], registry=self.registry,
        )

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


class RequestMetricsMiddleware:
    """Counts every HTTP answer and times it, labelled by route template (not raw path)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(scope.get("method", ""), route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
