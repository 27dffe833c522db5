"""Prometheus metrics of one gateway app (its own registry, so tests can build many)."""

from __future__ import annotations

import asyncio
import math

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "autotier_requests", "Requests by API and HTTP status", ["api", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "autotier_errors", "Error replies by API and error code", ["api", "code"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "autotier_routing_decisions", "Routing decisions of served requests by tier and resolved model",
            ["tier", "model"], registry=self.registry,
        )
        self.explains = Counter(
            "autotier_explain_decisions", "Decisions returned by POST /v1/route (no provider call), by tier",
            ["tier"], registry=self.registry,
        )
        self.fallbacks = Counter(
            "autotier_fallbacks", "Fallbacks taken after a retryable upstream failure",
            ["from_model", "status"], registry=self.registry,
        )
        self.feedback = Counter(
            "autotier_feedback", "Explicit feedback signals stored (POST /v1/feedback) by signal and value",
            ["signal", "value"], registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "autotier_upstream_latency_seconds",
            "Time to the upstream's answer (streams: to its first event)", ["model"],
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )

        # Read when /metrics is scraped: a count that keeps rising under steady load is a leak
        # (tasks left behind by abandoned streams, hung upstream calls, ...).
        self.event_loop_tasks = Gauge(
            "autotier_event_loop_tasks", "asyncio tasks alive on the serving event loop", registry=self.registry,
        )
        self.event_loop_tasks.set_function(_running_tasks)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _running_tasks() -> float:
    """Tasks of the running event loop; NaN when rendered outside one."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:
        return math.nan
