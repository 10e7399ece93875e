"""Every acknowledged write survives `kill -9` of the real service process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from helpers import RUN, event_body, job_body, job_counts
from server_process import ServiceProcess

pytestmark = pytest.mark.external

CONCURRENT_JOBS = 40
EVENTS_PER_JOB = 3


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    process = ServiceProcess(tmp_path / "armada.db", cwd=workdir)
    process.start()
    yield process
    process.stop()


async def test_acknowledged_run_job_and_events_survive_kill_9(service: ServiceProcess):
    async with aiohttp.ClientSession(service.url) as http:
        assert (await http.post("/api/runs/", json=RUN)).status == 201
        assert (await http.post("/api/jobs/", json=job_body())).status == 201
        for n in range(3):
            body = event_body(f"event-{n}", event_datetime=f"2026-02-24T10:32:0{n}.000")
            assert (await http.post("/api/events/", json=body)).status == 201
        patch = {"job_uuid": "job-1", "job_status": "Success"}
        assert (await http.patch("/api/jobs/status", json=patch)).status == 200

    service.kill()
    service.start()

    async with aiohttp.ClientSession(service.url) as http:
        runs = await (await http.get("/api/runs/")).json()
        jobs = await (await http.get("/api/jobs/", params={"run_uuid": "run-1"})).json()
        events = await (await http.get("/api/events/", params={"job_uuid": "job-1"})).json()
    assert runs["runs"] == [{"run_uuid": "run-1", "run_datetime": "2026-02-24T10:30:00.000Z",
                             **job_counts(total=1, success=1)}]
    assert [(job["job_uuid"], job["job_status"]) for job in jobs["jobs"]] == [("job-1", "Success")]
    assert [event["event_uuid"] for event in events] == ["event-2", "event-1", "event-0"]


async def test_many_concurrent_acknowledged_writes_survive_kill_9(service: ServiceProcess):
    async def post_job_with_events(http: aiohttp.ClientSession, n: int) -> None:
        response = await http.post("/api/jobs/", json=job_body(f"job-{n}", run_uuid="run-1"))
        assert response.status == 201, await response.text()
        for e in range(EVENTS_PER_JOB):
            body = event_body(f"event-{n}-{e}", job_uuid=f"job-{n}")
            response = await http.post("/api/events/", json=body)
            assert response.status == 201, await response.text()

    async with aiohttp.ClientSession(service.url) as http:
        await asyncio.gather(*(post_job_with_events(http, n) for n in range(CONCURRENT_JOBS)))

    service.kill()
    service.start()

    async with aiohttp.ClientSession(service.url) as http:
        runs = await (await http.get("/api/runs/")).json()
        jobs = await (await http.get("/api/jobs/", params={"page_size": 100})).json()
        counts = await asyncio.gather(*(
            _event_count(http, f"job-{n}") for n in range(CONCURRENT_JOBS)
        ))
    assert runs["total"] == 1
    assert jobs["total"] == CONCURRENT_JOBS
    assert {job["job_uuid"] for job in jobs["jobs"]} == {f"job-{n}" for n in range(CONCURRENT_JOBS)}
    assert counts == [EVENTS_PER_JOB] * CONCURRENT_JOBS


async def _event_count(http: aiohttp.ClientSession, job_uuid: str) -> int:
    response = await http.get("/api/events/", params={"job_uuid": job_uuid})
    return len(await response.json())
