"""Prometheus metrics, one registry per application (tests run many apps in one process).

HTTP requests are counted by the route's path template (never the raw URL, whose ids would
make one series per run), the WebSocket figures are read from the broadcaster when scraped,
and the store reports each operation through its `observe` hook. What the service is for
(events stored, jobs and runs that ended) is counted from the store's committed changes
(ChangeCounts, one of its sinks): no query of its own. prometheus_client's process, platform
and GC collectors, and the build's version, are on the same registry.

The per-request counters and histograms are tallied here, in plain dicts on the event loop,
and handed to prometheus_client as metric families at each scrape: the library's own
Counter and Histogram take a lock and several calls per update, which measured 42k of a
request's 545k instructions on the event loop (`bench/instructions.py`); the exposition,
the families and the registry stay the library's.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Any

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from armada.changes import Change

UNMATCHED_ROUTE = "unmatched"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The `le` label of each bucket, as prometheus_client writes it.
BUCKET_NAMES = (*(floatToGoString(bound) for bound in LATENCY_BUCKETS), "+Inf")
DISTRIBUTION = "armada-backend"
# The statuses that end a job (Lost does not: its agent may report again; armada_jobs_lost).
JOB_END_STATUSES = ("Success", "Failed", "Cancelled")
RUN_END_STATUSES = ("Success", "Failed", "Cancelled")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Tally("armada_http_requests", "HTTP requests answered, by route "
                              "template, method, status", ("route", "method", "status"))
        self.latency = LatencyTally("armada_http_request_duration_seconds",
                                    "Time to answer an HTTP request", ("route", "method"))
        self.db_operations = Tally("armada_db_operations", "Store operations, by name and "
                                   "outcome (ok, error, unavailable)", ("operation", "outcome"))
        self.db_latency = LatencyTally(
            "armada_db_operation_duration_seconds",
            "Time from asking the store to its answer (queueing included), by operation",
            ("operation",))
        self.changes = ChangeCounts()
        self.registry.register(_Tallies((self.requests, self.latency, self.db_operations,
                                         self.db_latency, *self.changes.tallies),
                                        created_series()))
        # prometheus_client's default collectors (process_*, python_info, python_gc_*), here
        # on this registry: the library's default registry is not the one served.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)  # registers itself only where gc has stats
        Info("armada_build", "The service's version", registry=self.registry).info(
            {"version": _version()})
        self.jobs_lost = Counter(
            "armada_jobs_lost", "Jobs this replica marked Lost (no report for "
            "ARMADA_JOB_STALE_AFTER)", registry=self.registry,
        )
        self._sources: dict[str, Callable[[], float | None]] = {}
        self.registry.register(_Readings(self._sources))

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
        self.db_operations.add((name, outcome))
        self.db_latency.observe((name,), seconds)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request answered (request_log.py calls it with the log line)."""
        self.requests.add((route, method, status))
        self.latency.observe((route, method), seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ChangeCounts:
    """What the service is for, counted from the store's committed changes (a sink, on the
    event loop after each commit): events stored, jobs that ended by status, runs that ended
    by status (a status change that left the run no Running or Pending job: the store says
    which, `Change.run_ended`)."""

    def __init__(self) -> None:
        self.events = Tally("armada_events_ingested", "Events stored through this replica",
                            (), zero=[()])
        self.jobs = Tally(
            "armada_jobs_finished", "Jobs given a status that ends them (Success, Failed, "
            "Cancelled) through this replica, from another one or at their create",
            ("status",), zero=[(status,) for status in JOB_END_STATUSES])
        self.runs = Tally(
            "armada_runs_finished", "Runs left with no Running or Pending job by a status "
            "change through this replica, by the run's status then", ("status",),
            zero=[(status,) for status in RUN_END_STATUSES])
        self.tallies = (self.events, self.jobs, self.runs)

    def committed(self, changes: Sequence[Change]) -> None:
        for change in changes:
            kind = change.type
            if kind == "new_event":
                self.events.add(())
            elif kind == "update_job_status":
                status = change.record["job_status"]
                if status in JOB_END_STATUSES and change.previous_status not in JOB_END_STATUSES:
                    self.jobs.add((status,))
                if change.run_ended is not None:
                    self.runs.add((change.run_ended,))
            elif kind == "new_job" and change.record["job_status"] in JOB_END_STATUSES:
                self.jobs.add((change.record["job_status"],))

    def commit_unknown(self) -> None:
        return None  # nothing is known of those writes to count


class Tally:
    """A counter by label values, updated and scraped on the event loop only (no lock).

    Label values may be any hashable (a status as an int); they are shown as text. The
    series of `zero` exist from the start, at 0."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...],
                 zero: Iterable[tuple[Hashable, ...]] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        # label values -> [count, when the series was created]
        self._series: dict[tuple[Hashable, ...], list[float]] = {
            key: [0, time.time()] for key in zero}

    def add(self, key: tuple[Hashable, ...]) -> None:
        series = self._series.get(key)
        if series is None:
            self._series[key] = [1, time.time()]
        else:
            series[0] += 1

    def family(self, with_created: bool) -> CounterMetricFamily:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, (count, created) in self._series.items():
            family.add_metric([str(value) for value in key], count,
                              created=created if with_created else None)
        return family


class LatencyTally:
    """A histogram of seconds (LATENCY_BUCKETS) by label values, like Tally."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        # label values -> [count per bucket, the last one above every bound], [sum, created]
        self._series: dict[tuple[Hashable, ...], tuple[list[int], list[float]]] = {}

    def observe(self, key: tuple[Hashable, ...], seconds: float) -> None:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = ([0] * (len(LATENCY_BUCKETS) + 1), [0.0, time.time()])
        counts, total = series
        # A bucket counts what is at most its bound: the first bound not below `seconds`.
        counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        total[0] += seconds

    def family(self, with_created: bool) -> HistogramMetricFamily:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, (counts, (total, created)) in self._series.items():
            values = [str(value) for value in key]
            buckets = list(zip(BUCKET_NAMES, accumulate(counts), strict=True))
            family.add_metric(values, buckets, total)
            if with_created:
                labels = dict(zip(self.labels, values, strict=True))
                family.add_sample(self.name + "_created", labels, created)
        return family


def created_series() -> bool:
    """prometheus_client's documented switch: PROMETHEUS_DISABLE_CREATED_SERIES=true drops
    the `_created` series, which its own classes read when imported and ours when built."""
    disabled = os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False")
    return disabled.lower() not in ("true", "1", "t")


class _Tallies(Collector):
    def __init__(self, tallies: tuple[Tally | LatencyTally, ...], with_created: bool) -> None:
        self._tallies = tallies
        self._with_created = with_created

    def collect(self) -> Iterator[Any]:
        for tally in self._tallies:
            yield tally.family(self._with_created)


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


def _version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown"


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
