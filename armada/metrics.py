"""Prometheus metrics, one registry per application (tests run many apps in one process).

HTTP requests are counted by the route's path template (never the raw URL, whose ids would
make one series per run), the WebSocket figures are read from the broadcaster when scraped,
and the store reports each operation through its `observe` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

UNMATCHED_ROUTE = "unmatched"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "armada_http_requests", "HTTP requests answered, by route template, method, status",
            ("route", "method", "status"), registry=self.registry,
        )
        self.latency = Histogram(
            "armada_http_request_duration_seconds", "Time to answer an HTTP request",
            ("route", "method"), buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.db_operations = Counter(
            "armada_db_operations", "Store operations, by name and outcome (ok, error, "
            "unavailable)", ("operation", "outcome"), registry=self.registry,
        )
        self.db_latency = Histogram(
            "armada_db_operation_duration_seconds",
            "Time from asking the store to its answer (queueing included), by operation",
            ("operation",), buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.jobs_lost = Counter(
            "armada_jobs_lost", "Jobs this replica marked Lost (no report for "
            "ARMADA_JOB_STALE_AFTER)", registry=self.registry,
        )
        self._sources: dict[str, Callable[[], float | None]] = {}
        self.registry.register(_Readings(self._sources))
        # The labelled children, looked up once: `.labels()` costs more than the update.
        self._request_counts: dict[tuple[str, str, int], Any] = {}
        self._request_latencies: dict[tuple[str, str], Any] = {}
        self._operation_counts: dict[tuple[str, str], Any] = {}
        self._operation_latencies: dict[str, Any] = {}

    def read_from(self, subscribers: Any, numbering: Any, store: Any) -> None:
        """Values taken from the subscribers, the numbering and the store each time /metrics
        is scraped."""
        self._sources["subscribers"] = lambda: len(subscribers)
        self._sources["dropped"] = lambda: subscribers.dropped
        self._sources["sent"] = lambda: subscribers.sent
        self._sources["writes"] = lambda: subscribers.writes.count
        self._sources["in_use"] = store.connections_in_use
        self._sources["pool"] = lambda: store.pool_size
        self._sources["redis"] = lambda: _redis_connected(numbering)

    def observe_operation(self, name: str, seconds: float, error: BaseException | None) -> None:
        """The store's hook, called on the event loop when an operation answered."""
        if error is None:
            outcome = "ok"
        else:
            outcome = "unavailable" if getattr(error, "status", None) == 503 else "error"
        count = self._operation_counts.get((name, outcome))
        if count is None:
            count = self._operation_counts[name, outcome] = self.db_operations.labels(
                name, outcome)
        latency = self._operation_latencies.get(name)
        if latency is None:
            latency = self._operation_latencies[name] = self.db_latency.labels(name)
        count.inc()
        latency.observe(seconds)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request answered (request_log.py calls it with the log line)."""
        count = self._request_counts.get((route, method, status))
        if count is None:
            count = self._request_counts[route, method, status] = self.requests.labels(
                route, method, str(status))
        latency = self._request_latencies.get((route, method))
        if latency is None:
            latency = self._request_latencies[route, method] = self.latency.labels(
                route, method)
        count.inc()
        latency.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Readings(Collector):
    """Gauges and counters whose values live elsewhere (broadcaster, store, Redis relay);
    a source that answers None has no series."""

    def __init__(self, sources: dict[str, Callable[[], float | None]]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Any]:
        families = (
            ("subscribers", GaugeMetricFamily, "armada_ws_subscribers",
             "WebSocket subscribers connected"),
            ("sent", CounterMetricFamily, "armada_ws_messages_sent",
             "Messages queued to WebSocket subscribers (one per subscriber per message it takes)"),
            ("writes", CounterMetricFamily, "armada_ws_writes",
             "Socket writes to WebSocket subscribers, each of one or more messages"),
            ("dropped", CounterMetricFamily, "armada_ws_subscribers_dropped",
             "WebSocket subscribers disconnected because their queue overflowed"),
            ("in_use", GaugeMetricFamily, "armada_db_connections_in_use",
             "Database connections running an operation now"),
            ("pool", GaugeMetricFamily, "armada_db_pool_connections",
             "Database connections the pool may hold (readers and the writer)"),
            ("redis", GaugeMetricFamily, "armada_redis_connected",
             "1 while the stream is shared through Redis, 0 while Redis is lost "
             "(absent without ARMADA_REDIS_URL)"),
        )
        for key, family, name, documentation in families:
            source = self._sources.get(key)
            value = None if source is None else source()
            if value is not None:
                yield family(name, documentation, value=value)


def _redis_connected(numbering: Any) -> float | None:
    """1 or 0 from the Redis numbering; None (no series) when the stream does not use Redis."""
    connected = getattr(numbering, "connected", None)
    return None if connected is None else float(connected)


def route_label(request: web.Request) -> str:
    """The route template (`/api/runs/{run_uuid}`), one label with or without trailing slash."""
    resource = request.match_info.route.resource
    if resource is None:
        return UNMATCHED_ROUTE
    return resource.canonical.rstrip("/") or "/"


def metrics_handler(metrics: Metrics) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    return handler
