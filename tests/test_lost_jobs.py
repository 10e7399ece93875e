"""Specification of lost jobs (README "Lost jobs"): a Running job with no report for
ARMADA_JOB_STALE_AFTER (here 1 s, swept every 0.5 s) becomes Lost (a Pending one never), with
a Failed event saying for how long it was silent, both broadcast and counted; a later report
brings it back; with two replicas on one database it is marked once; the agents' client still
works. On SQLite, and on SQL Server with ARMADA_TEST_MSSQL (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
import time
import urllib.request
from dataclasses import replace
from typing import Any

import pytest
from armada_client import MonitoringClient
from conftest import mssql_connect
from helpers import event_body, job_body, next_message, no_message
from server_process import ServiceProcess

from armada.app import init_app
from armada.config import MssqlSettings, SqliteSettings, load_config

STALE = 1.0
# Silent for STALE, then found by a sweep (every STALE / 2), with room for a loaded machine.
MARKED_WITHIN = STALE * 4


def rows(database: SqliteSettings | MssqlSettings, sql: str) -> list[tuple[Any, ...]]:
    """What `sql` answers, read straight from the test's database, beside the service."""
    if isinstance(database, MssqlSettings):
        with mssql_connect(database, database.database) as connection, \
                connection.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
    with contextlib.closing(sqlite3.connect(database.path)) as db:
        return db.execute(sql).fetchall()


async def lost_messages(ws) -> list[dict]:
    """The two messages that say a job was found Lost, in either order."""
    messages = [await next_message(ws, MARKED_WITHIN) for _ in range(2)]
    return sorted(messages, key=lambda message: message["type"])


async def metric(client, name: str) -> float:
    text = await (await client.get("/metrics")).text()
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")]
    return sum(values)


async def test_a_silent_job_is_marked_lost_announced_and_counted(make_client):
    client = await make_client(job_stale_after=STALE)
    ws = await client.ws_connect("/ws/events/")
    assert (await client.post("/api/jobs/", json=job_body("job-1"))).status == 201
    assert (await next_message(ws))["type"] == "new_run"
    assert (await next_message(ws))["type"] == "new_job"
    started = time.monotonic()

    new_event, status = await lost_messages(ws)
    assert time.monotonic() - started >= STALE * 0.9
    assert status == {"type": "update_job_status",
                      "data": {"job_uuid": "job-1", "job_status": "Lost"}}
    assert new_event["type"] == "new_event"
    event = new_event["data"]
    assert (event["job_uuid"], event["event_status"]) == ("job-1", "Lost")
    silent = re.fullmatch(r"Lost: no report from the job for (\d+) s", event["event_content"])
    assert silent is not None, event["event_content"]
    assert STALE <= int(silent.group(1)) <= MARKED_WITHIN  # found by a sweep after STALE

    job = await (await client.get("/api/jobs/job-1")).json()
    assert job["job_status"] == "Lost"
    events = await (await client.get("/api/events/", params={"job_uuid": "job-1"})).json()
    assert events == [event]
    run = await (await client.get("/api/runs/run-1")).json()
    assert (run["run_status"], run["jobs_lost"], run["jobs_running"]) == ("Failed", 1, 0)
    assert await metric(client, "armada_jobs_lost_total") == 1
    # Marked once: a Lost job is no longer looked for.
    await no_message(ws, STALE * 2)
    await ws.close()


async def test_a_lost_jobs_last_report_stays_its_agents_last_report(make_client):
    client = await make_client(job_stale_after=STALE)
    ws = await client.ws_connect("/ws/events/")
    await client.post("/api/jobs/", json=job_body("job-1"))
    await client.post("/api/jobs/", json=job_body("job-2"))
    agents_last = event_body("e-1", "job-1", event_datetime="2026-02-24T10:45:00.000")
    assert (await client.post("/api/events/", json=agents_last)).status == 201
    for _ in range(4):  # new_run, new_job twice, new_event
        await next_message(ws)

    markers = {}
    for _ in range(2):
        new_event = (await lost_messages(ws))[0]["data"]
        markers[new_event["job_uuid"]] = new_event
    # Marked at the service's clock, dated at each agent's last report: its newest event, or
    # the job's own datetime when it sent none.
    assert markers["job-1"]["event_datetime"] == "2026-02-24T10:45:00.000Z"
    assert markers["job-2"]["event_datetime"] == "2026-02-24T10:31:00.000Z"
    assert {marker["event_status"] for marker in markers.values()} == {"Lost"}
    run = await (await client.get("/api/runs/run-1")).json()
    assert run["last_report_datetime"] == "2026-02-24T10:45:00.000Z"
    newest = await (await client.get("/api/events/", params={"job_uuid": "job-2",
                                                             "limit": 1})).json()
    assert newest["events"][0]["event_datetime"] == "2026-02-24T10:31:00.000Z"
    await ws.close()


async def test_a_job_that_keeps_reporting_is_never_lost(make_client):
    client = await make_client(job_stale_after=STALE)
    await client.post("/api/jobs/", json=job_body("job-1", job_status="Pending"))
    for number in range(8):  # 2.4 s of events, each well within the threshold
        await asyncio.sleep(STALE * 0.3)
        assert (await client.post("/api/events/", json=event_body(f"e-{number}"))).status == 201
    await client.patch("/api/jobs/status", json={"job_uuid": "job-1", "job_status": "Running"})
    await asyncio.sleep(STALE * 0.6)
    job = await (await client.get("/api/jobs/job-1")).json()
    assert job["job_status"] == "Running"
    assert await metric(client, "armada_jobs_lost_total") == 0


async def test_a_pending_job_waits_for_an_agent_and_is_never_lost(make_client):
    client = await make_client(job_stale_after=STALE)
    ws = await client.ws_connect("/ws/events/")
    await client.post("/api/jobs/", json=job_body("job-1", job_status="Pending"))
    await next_message(ws), await next_message(ws)

    await no_message(ws, MARKED_WITHIN)
    assert (await (await client.get("/api/jobs/job-1")).json())["job_status"] == "Pending"
    assert await (await client.get("/api/events/", params={"job_uuid": "job-1"})).json() == []
    run = await (await client.get("/api/runs/run-1")).json()
    assert (run["run_status"], run["jobs_pending"], run["jobs_lost"]) == ("Running", 1, 0)
    # Taken by an agent: from then on, its silence makes it Lost.
    await client.patch("/api/jobs/status", json={"job_uuid": "job-1", "job_status": "Running"})
    assert (await next_message(ws))["data"]["job_status"] == "Running"
    assert (await lost_messages(ws))[1]["data"]["job_status"] == "Lost"
    await ws.close()


async def test_an_event_of_a_lost_job_brings_it_back_running(make_client):
    client = await make_client(job_stale_after=STALE)
    ws = await client.ws_connect("/ws/events/")
    await client.post("/api/jobs/", json=job_body("job-1"))
    await next_message(ws), await next_message(ws)
    await lost_messages(ws)

    late = event_body("late", "job-1", event_status="Success")
    assert (await client.post("/api/events/", json=late)).status == 201
    assert await next_message(ws) == {"type": "new_event", "data": {
        **late, "event_datetime": "2026-02-24T10:32:00.000Z"}}
    assert await next_message(ws) == {"type": "update_job_status",
                                      "data": {"job_uuid": "job-1", "job_status": "Running"}}
    assert (await (await client.get("/api/jobs/job-1")).json())["job_status"] == "Running"
    run = await (await client.get("/api/runs/run-1")).json()
    assert (run["run_status"], run["jobs_lost"]) == ("Running", 0)
    # Silent again: Lost again, its own messages again.
    status = (await lost_messages(ws))[1]
    assert status["data"]["job_status"] == "Lost"
    assert await metric(client, "armada_jobs_lost_total") == 2
    await ws.close()


async def test_a_batch_of_events_of_a_lost_job_brings_it_back_once(make_client):
    client = await make_client(job_stale_after=STALE)
    ws = await client.ws_connect("/ws/events/")
    await client.post("/api/jobs/", json=job_body("job-1"))
    await next_message(ws), await next_message(ws)
    await lost_messages(ws)
    # The first event is one the job already has (no revival by it); the others are new.
    stored = (await (await client.get("/api/events/", params={"job_uuid": "job-1"})).json())
    events = [stored[0], *(event_body(f"late-{n}", "job-1") for n in range(3))]
    response = await client.post("/api/events/batch", json={"events": events})
    assert response.status == 201
    assert (await response.json())["created"] == ["late-0", "late-1", "late-2"]
    messages = [await next_message(ws) for _ in range(4)]
    assert [(m["type"], m["data"].get("event_uuid")) for m in messages] == [
        ("new_event", "late-0"), ("update_job_status", None),
        ("new_event", "late-1"), ("new_event", "late-2")]
    assert messages[1]["data"] == {"job_uuid": "job-1", "job_status": "Running"}
    assert (await (await client.get("/api/jobs/job-1")).json())["job_status"] == "Running"
    await ws.close()


async def test_a_status_of_a_lost_job_brings_it_back_with_that_status(make_client):
    client = await make_client(job_stale_after=STALE)
    ws = await client.ws_connect("/ws/events/")
    await client.post("/api/jobs/", json=job_body("job-1"))
    await next_message(ws), await next_message(ws)
    await lost_messages(ws)
    await client.patch("/api/jobs/status", json={"job_uuid": "job-1", "job_status": "success"})
    assert await next_message(ws) == {"type": "update_job_status",
                                      "data": {"job_uuid": "job-1", "job_status": "Success"}}
    run = await (await client.get("/api/runs/run-1")).json()
    assert (run["run_status"], run["jobs_lost"], run["jobs_success"]) == ("Success", 0, 1)
    await no_message(ws, STALE * 2)  # a finished job is never Lost
    await ws.close()


async def test_with_stale_after_zero_nothing_is_ever_lost(make_client):
    client = await make_client(job_stale_after=None)
    await client.post("/api/jobs/", json=job_body("job-1"))
    await asyncio.sleep(STALE * 2)
    assert (await (await client.get("/api/jobs/job-1")).json())["job_status"] == "Running"


async def test_two_replicas_on_one_database_mark_each_job_once(aiohttp_client, config):
    replicas = [await aiohttp_client(init_app(replace(config, job_stale_after=STALE)))
                for _ in range(2)]
    sockets = [await replica.ws_connect("/ws/events/") for replica in replicas]
    jobs = [f"job-{number}" for number in range(6)]
    for number, job_uuid in enumerate(jobs):
        response = await replicas[number % 2].post("/api/jobs/", json=job_body(job_uuid))
        assert response.status == 201
    await asyncio.sleep(MARKED_WITHIN)

    lost: list[str] = []
    for ws in sockets:
        while True:
            try:
                message = await next_message(ws, 0.2)
            except TimeoutError:
                break
            if message == {"type": "update_job_status",
                           "data": {"job_uuid": message["data"].get("job_uuid"),
                                    "job_status": "Lost"}}:
                lost.append(message["data"]["job_uuid"])
    assert sorted(lost) == jobs
    assert sum([await metric(replica, "armada_jobs_lost_total") for replica in replicas]) == 6
    marks = rows(config.database, "SELECT job_uuid, COUNT(*) FROM armada_events "
                                  "WHERE event_content LIKE 'Lost:%' GROUP BY job_uuid")
    statuses = set(rows(config.database, "SELECT job_status FROM armada_jobs"))
    assert sorted(marks) == [(job_uuid, 1) for job_uuid in jobs]
    assert statuses == {("Lost",)}
    for ws in sockets:
        await ws.close()


@pytest.mark.slow
@pytest.mark.external
def test_the_agents_client_reports_through_a_lost_job(tmp_path):
    service = ServiceProcess(tmp_path / "armada.db", cwd=tmp_path, ARMADA_JOB_STALE_AFTER="1")
    service.start()
    try:
        agent = MonitoringClient("run-1", 3, base_url=service.url, base_delay=0.02)
        agent.create_job().flush()

        def job_status() -> str:
            with urllib.request.urlopen(f"{service.url}/api/jobs/{agent.job_uuid}") as answer:
                return json.load(answer)["job_status"]

        deadline = time.monotonic() + MARKED_WITHIN
        while job_status() != "Lost":
            assert time.monotonic() < deadline, "never marked Lost"
            time.sleep(0.1)
        agent.record_success_event("Page loaded, late").flush()
        assert job_status() == "Running"
        agent.record_finalsuccess_event("Done").flush()
        assert job_status() == "Success"
        with urllib.request.urlopen(f"{service.url}/api/runs/run-1") as answer:
            run = json.load(answer)
        assert (run["run_status"], run["jobs_lost"]) == ("Success", 0)
    finally:
        service.stop()


def test_stale_after_is_read_in_seconds_minutes_or_hours():
    assert load_config({}).job_stale_after == 1800
    assert load_config({"ARMADA_JOB_STALE_AFTER": "0"}).job_stale_after is None
    assert load_config({"ARMADA_JOB_STALE_AFTER": "15m"}).job_stale_after == 900
    assert load_config({"ARMADA_JOB_STALE_AFTER": "2h"}).job_stale_after == 7200
    assert load_config({"ARMADA_JOB_STALE_AFTER": "1.5"}).job_stale_after == 1.5


async def test_when_the_sweeping_replica_stops_another_takes_its_lease_and_sweeps(
        aiohttp_client, config):
    first = await aiohttp_client(init_app(replace(config, job_stale_after=STALE)))
    await asyncio.sleep(STALE)  # its first sweep (after STALE / 2) took the lease

    def lease() -> tuple[Any, ...]:
        (row,) = rows(config.database, "SELECT holder, expires FROM armada_leases "
                                       "WHERE name = 'lost_jobs'")
        return row

    holder, _ = lease()
    assert holder
    await first.close()
    second = await aiohttp_client(init_app(replace(config, job_stale_after=STALE)))
    await second.post("/api/jobs/", json=job_body("job-1"))
    # The lease outlives three sweep intervals (1.5 s here), then the second replica sweeps.
    deadline = time.monotonic() + MARKED_WITHIN + STALE * 1.5
    while (await (await second.get("/api/jobs/job-1")).json())["job_status"] != "Lost":
        assert time.monotonic() < deadline, "never marked Lost"
        await asyncio.sleep(0.1)
    assert lease()[0] not in ("", holder)
    assert await metric(second, "armada_jobs_lost_total") == 1
