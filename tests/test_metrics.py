"""/metrics: requests by route template, WebSocket figures, store operations, the process
and the build, and what the service is for: events stored, jobs and runs that ended."""

from __future__ import annotations

import asyncio
import importlib.metadata
from typing import Any

from helpers import RUN, event_body, job_body, next_message
from prometheus_client.parser import text_string_to_metric_families


async def scrape(client: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(await response.text())
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_method_and_status(client: Any) -> None:
    await client.post("/api/runs/", json=RUN)
    await client.delete("/api/runs/run-1")
    await client.delete("/api/runs/run-1")
    await client.delete("/api/runs/another")
    await client.get("/no/such/path/42")

    samples = await scrape(client)

    route = "/api/runs/{run_uuid}"
    assert value(samples, "armada_http_requests_total", route=route, method="DELETE",
                 status="200") == 1
    assert value(samples, "armada_http_requests_total", route=route, method="DELETE",
                 status="404") == 2
    assert value(samples, "armada_http_requests_total", route="unmatched", method="GET",
                 status="404") == 1
    assert value(samples, "armada_http_request_duration_seconds_count", route="/api/runs",
                 method="POST") == 1
    assert not any("run-1" in str(labels) for _name, labels in samples)


async def test_websocket_subscribers_and_messages_are_reported(client: Any,
                                                               subscribe: Any) -> None:
    ws = await subscribe()
    await client.post("/api/runs/", json=RUN)
    await next_message(ws)

    samples = await scrape(client)

    assert value(samples, "armada_ws_subscribers") == 1
    assert value(samples, "armada_ws_messages_sent_total") == 1
    assert value(samples, "armada_ws_subscribers_dropped_total") == 0


async def test_store_operations_are_counted_with_their_latency(client: Any) -> None:
    await client.post("/api/runs/", json=RUN)
    await client.delete("/api/runs/missing")

    samples = await scrape(client)

    assert value(samples, "armada_db_operations_total", operation="create_run",
                 outcome="ok") == 1
    assert value(samples, "armada_db_operations_total", operation="delete_run",
                 outcome="error") == 1
    assert value(samples, "armada_db_operation_duration_seconds_count",
                 operation="create_run") == 1
    assert value(samples, "armada_db_pool_connections") >= 2
    # Background work (the poll for purged runs, the instance's lease) holds a connection for
    # moments only: none is left in use.
    deadline = asyncio.get_running_loop().time() + 5
    while value(samples, "armada_db_connections_in_use") != 0:
        assert asyncio.get_running_loop().time() < deadline, "a connection stays in use"
        await asyncio.sleep(0.05)
        samples = await scrape(client)


async def test_without_redis_there_is_no_redis_connected_series(client: Any) -> None:
    # Absent rather than 0: no alert on `armada_redis_connected == 0` for a lone process.
    samples = await scrape(client)

    assert not any(name == "armada_redis_connected" for name, _labels in samples)
    assert value(samples, "armada_ws_subscribers") == 0  # the other readings are there


async def test_each_app_has_its_own_registry(make_client: Any) -> None:
    first = await make_client()
    second = await make_client()
    await first.post("/api/runs/", json=RUN)

    assert value(await scrape(second), "armada_http_requests_total", route="/api/runs",
                 method="POST", status="201") == 0


def test_tallies_expose_what_prometheus_clients_own_counter_and_histogram_would() -> None:
    # The same observations, bounds exactly among them, through the library's classes and
    # through ours: the same samples (but the creation times) in the scrape's text.
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from armada.metrics import LATENCY_BUCKETS, Metrics

    theirs = CollectorRegistry()
    counts = Counter("armada_http_requests", "HTTP requests answered, by route template, "
                     "method, status", ("route", "method", "status"), registry=theirs)
    latency = Histogram("armada_http_request_duration_seconds", "Time to answer an HTTP "
                        "request", ("route", "method"), buckets=LATENCY_BUCKETS,
                        registry=theirs)
    ours = Metrics()
    observations = [("/api/runs", "POST", 201, bound) for bound in LATENCY_BUCKETS]
    observations += [("/api/runs", "POST", 201, 0.0), ("/api/runs", "POST", 201, 31.0),
                     ("/api/runs", "GET", 200, 0.0031), ("unmatched", "GET", 404, 0.2)]
    for route, method, status, seconds in observations:
        counts.labels(route, method, str(status)).inc()
        latency.labels(route, method).observe(seconds)
        ours.observe_request(route, method, status, seconds)

    def samples(text: bytes) -> set[tuple[str, frozenset[tuple[str, str]], float]]:
        return {(sample.name, frozenset(sample.labels.items()),
                 -1.0 if sample.name.endswith("_created") else sample.value)
                for family in text_string_to_metric_families(text.decode())
                for sample in family.samples
                if sample.name.startswith("armada_http_")}

    assert samples(ours.exposition()) == samples(generate_latest(theirs))


def test_prometheus_clients_switch_drops_the_created_series_of_the_tallies_too(
        monkeypatch: Any) -> None:
    from armada.metrics import Metrics

    monkeypatch.setenv("PROMETHEUS_DISABLE_CREATED_SERIES", "True")
    metrics = Metrics()
    metrics.observe_request("/api/runs", "POST", 201, 0.002)
    metrics.observe_operation("create_run", 0.001, None)

    names = {sample.name for family in text_string_to_metric_families(
        metrics.exposition().decode()) for sample in family.samples}

    assert "armada_http_requests_total" in names
    assert "armada_db_operation_duration_seconds_count" in names
    assert not any(name.startswith(("armada_http_", "armada_db_operation"))
                   and name.endswith("_created") for name in names)


async def test_metrics_carry_the_process_the_python_and_the_build_version(client: Any) -> None:
    samples = await scrape(client)

    assert value(samples, "process_resident_memory_bytes") > 0
    assert value(samples, "process_open_fds") > 0
    assert ("process_cpu_seconds_total", frozenset()) in samples
    assert any(name == "python_info" for name, _labels in samples)
    assert any(name == "python_gc_collections_total" for name, _labels in samples)
    version = importlib.metadata.version("armada-backend")
    assert value(samples, "armada_build_info", version=version) == 1


async def patch_status(client: Any, job_uuid: str, job_status: str) -> None:
    response = await client.patch("/api/jobs/status",
                                  json={"job_uuid": job_uuid, "job_status": job_status})
    assert response.status == 200, await response.text()


async def post(client: Any, path: str, body: dict[str, Any]) -> None:
    response = await client.post(path, json=body)
    assert response.status in (200, 201), await response.text()


async def test_events_stored_and_jobs_and_runs_that_end_are_counted_by_status(
        client: Any) -> None:
    before = await scrape(client)
    assert value(before, "armada_events_ingested_total") == 0
    assert ("armada_jobs_finished_total", frozenset({("status", "Success")})) in before
    assert ("armada_runs_finished_total", frozenset({("status", "Failed")})) in before

    for job_uuid in ("job-1", "job-2"):
        await post(client, "/api/jobs/", job_body(job_uuid))
    await post(client, "/api/events/", event_body("e-1"))
    await post(client, "/api/events/", event_body("e-1"))  # a repeat stores nothing
    await post(client, "/api/events/batch", {"events": [event_body("e-2"),
                                                        event_body("e-3", "job-2")]})
    assert (await client.post("/api/events/", json=event_body("e-4", "nobody"))).status == 404
    await patch_status(client, "job-1", "Success")
    await patch_status(client, "job-1", "Success")  # ended already
    middle = await scrape(client)
    await patch_status(client, "job-2", "Failed")  # the run's last live job
    await post(client, "/api/jobs/", job_body("job-3", "run-2", job_status="Cancelled"))
    await post(client, "/api/jobs/", job_body("job-4", "run-3", job_status="Pending"))
    await patch_status(client, "job-4", "Success")

    samples = await scrape(client)

    assert value(samples, "armada_events_ingested_total") == 3

    def jobs(status: str) -> float:
        return value(samples, "armada_jobs_finished_total", status=status)

    def runs(status: str) -> float:
        return value(samples, "armada_runs_finished_total", status=status)

    assert (jobs("Success"), jobs("Failed"), jobs("Cancelled")) == (2, 1, 1)
    assert value(middle, "armada_runs_finished_total", status="Success") == 0
    assert (runs("Success"), runs("Failed"), runs("Cancelled")) == (1, 1, 0)


async def test_a_run_whose_last_live_job_is_found_lost_is_counted_as_failed(
        make_client: Any) -> None:
    client = await make_client(job_stale_after=1.0)
    ws = await client.ws_connect("/ws/events/")
    await post(client, "/api/jobs/", job_body("job-1"))
    await post(client, "/api/jobs/", job_body("job-2"))
    await patch_status(client, "job-2", "Success")
    messages = [await next_message(ws, within=5.0) for _ in range(6)]
    assert {"type": "update_job_status",
            "data": {"job_uuid": "job-1", "job_status": "Lost"}} in messages

    samples = await scrape(client)

    assert value(samples, "armada_runs_finished_total", status="Failed") == 1
    assert value(samples, "armada_runs_finished_total", status="Success") == 0
    assert value(samples, "armada_jobs_finished_total", status="Success") == 1
    await ws.close()
