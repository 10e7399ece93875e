"""`GET /api/runs/{run_uuid}/export` and `armada export`: a run, its jobs and their events as
one NDJSON or CSV file, parsed back; the real `armada serve` streams a run of many events
with its resident memory flat."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from helpers import event_body, job_body
from server_process import ServiceProcess, service_environment

from armada.http.export import EXPORT_CSV_COLUMNS

MB = 1024 * 1024
MANY_EVENTS = 200_000  # bench/export.py runs the same at 1,000,000
RSS_GROWTH_LIMIT = 25 * MB


async def post(client, path: str, body: dict) -> dict:
    response = await client.post(path, json=body)
    assert response.status in (200, 201), await response.text()
    return await response.json()


async def make_run(client) -> dict:
    """run-x with two jobs: job-a with 3 events, job-b with 2 (one with a comma, quotes
    and a newline in its content); and another run that must not appear."""
    await post(client, "/api/runs/", {"run_uuid": "run-x",
                                      "run_datetime": "2026-02-24T10:00:00.000"})
    for job, minute in (("job-a", 1), ("job-b", 2)):
        await post(client, "/api/jobs/", job_body(job, "run-x",
                                                  job_datetime=f"2026-02-24T10:0{minute}:00"))
    for n in range(3):
        await post(client, "/api/events/", event_body(f"a-{n}", "job-a",
                                                      event_datetime=f"2026-02-24T10:01:0{n}"))
    await post(client, "/api/events/", event_body("b-0", "job-b", event_content="plain"))
    await post(client, "/api/events/", event_body(
        "b-1", "job-b", event_content='Error: "timeout", line 2\nTraceback…'))
    await post(client, "/api/jobs/", job_body("job-other", "run-other"))
    await post(client, "/api/events/", event_body("other-0", "job-other"))
    return {
        "run": await (await client.get("/api/runs/run-x")).json(),
        "jobs": (await (await client.get("/api/jobs/?run_uuid=run-x&page_size=100")).json())
        ["jobs"],
        "events": [event for job in ("job-a", "job-b")
                   for event in await (await client.get(f"/api/events/?job_uuid={job}")).json()],
    }


async def test_ndjson_export_holds_the_run_then_each_job_followed_by_its_events(client):
    expected = await make_run(client)
    response = await client.get("/api/runs/run-x/export")
    assert response.status == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="run-run-x.ndjson"'
    assert response.content_type == "application/x-ndjson"
    lines = [json.loads(line) for line in (await response.text()).splitlines()]
    assert lines[0] == {"kind": "run", "run_uuid": "run-x",
                        "run_datetime": expected["run"]["run_datetime"]}
    jobs = [{k: v for k, v in line.items() if k != "kind"} for line in lines
            if line["kind"] == "job"]
    events = [{k: v for k, v in line.items() if k != "kind"} for line in lines
              if line["kind"] == "event"]
    assert sorted(jobs, key=str) == sorted(expected["jobs"], key=str)
    assert sorted(events, key=str) == sorted(expected["events"], key=str)
    kinds = [(line["kind"], line.get("job_uuid")) for line in lines[1:]]
    for position, (kind, job_uuid) in enumerate(kinds):
        if kind == "event":  # every event comes after its job
            assert ("job", job_uuid) in kinds[:position]


async def test_csv_export_is_one_table_with_a_kind_column_and_parses_back(client):
    expected = await make_run(client)
    response = await client.get("/api/runs/run-x/export?format=csv")
    assert response.status == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="run-run-x.csv"'
    rows = list(csv.DictReader(io.StringIO(await response.text(), newline="")))
    assert tuple(rows[0].keys()) == EXPORT_CSV_COLUMNS
    assert [row["kind"] for row in rows].count("run") == 1
    run = {k: rows[0][k] for k in ("run_uuid", "run_datetime")}
    assert run == {"run_uuid": "run-x", "run_datetime": expected["run"]["run_datetime"]}
    events = [{k: row[k] for k in ("event_uuid", "event_content", "job_uuid", "event_datetime",
                                   "event_status")} for row in rows if row["kind"] == "event"]
    assert sorted(events, key=str) == sorted(expected["events"], key=str)
    assert {row["job_uuid"] for row in rows if row["kind"] == "job"} == {"job-a", "job-b"}
    assert all(row["run_uuid"] == "" for row in rows if row["kind"] == "event")


async def test_export_of_an_unknown_run_is_a_404_json_error(client):
    response = await client.get("/api/runs/nobody/export")
    assert response.status == 404
    assert (await response.json())["error"] == "not_found"


async def test_export_of_an_unknown_format_is_a_422(client):
    await post(client, "/api/runs/", {"run_uuid": "run-x", "run_datetime": "2026-02-24T10:00"})
    response = await client.get("/api/runs/run-x/export?format=xml")
    assert response.status == 422
    assert "format" in (await response.json())["fields"]


def insert_events_directly(db_path: Path, run_uuid: str, jobs: int, events: int) -> None:
    """Many events straight into the SQLite file (executemany): the API would take minutes."""
    connection = sqlite3.connect(db_path)
    with connection:
        connection.execute("INSERT INTO armada_runs VALUES (?, ?)",
                           (run_uuid, "2026-02-24 10:00:00.000000"))
        connection.executemany("INSERT INTO armada_jobs VALUES (?, ?, ?, ?, ?)", [
            (f"job-{j}", run_uuid, "2026-02-24 10:00:00.000000", "agent", "Running")
            for j in range(jobs)])
        connection.executemany("INSERT INTO armada_events VALUES (?, ?, ?, ?, ?)", (
            (f"event-{n:08d}", f"Step {n}: page loaded in {n % 997} ms", f"job-{n % jobs}",
             f"2026-02-24 10:{(n // 60000) % 60:02d}:{(n // 1000) % 60:02d}.{n % 1000:03d}000",
             "Running")
            for n in range(events)))
    connection.close()


def resident_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@pytest.fixture
async def big_service(tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    service = ServiceProcess(tmp_path / "armada.db", tmp_path)
    await asyncio.to_thread(service.start)  # creates the tables
    await asyncio.to_thread(insert_events_directly, service.db_path, "run-big", 10, MANY_EVENTS)
    yield service
    await asyncio.to_thread(service.stop)


async def test_exporting_a_run_of_many_events_keeps_the_server_memory_flat(big_service):
    assert big_service.process is not None
    pid = big_service.process.pid
    url = f"{big_service.url}/api/runs/run-big/export"
    async with aiohttp.ClientSession() as session:
        # Warm: the first chunks size the buffers every later one reuses.
        async with session.get(url) as response:
            await response.content.read(1 << 20)
        before = resident_bytes(pid)
        peak, lines, started = before, 0, time.monotonic()
        async with session.get(url) as response:
            assert response.status == 200
            async for _line in response.content:
                lines += 1
                if lines % 20_000 == 0:
                    peak = max(peak, resident_bytes(pid))
    print(f"\nexport of {MANY_EVENTS} events: {time.monotonic() - started:.1f} s, server RSS "
          f"{before / MB:.0f} MB before, {peak / MB:.0f} MB at most during")
    assert lines == 1 + 10 + MANY_EVENTS
    assert peak - before < RSS_GROWTH_LIMIT


def test_armada_export_writes_the_file_to_stdout(tmp_path: Path):
    service = ServiceProcess(tmp_path / "armada.db", tmp_path)
    service.start()
    try:
        insert_events_directly(service.db_path, "run-cli", 2, 30)
        for kind in ("ndjson", "csv"):
            done = subprocess.run(
                [sys.executable, "-m", "armada", "export", "run-cli", "--format", kind,
                 "--url", service.url], env=service_environment(), capture_output=True,
                timeout=30)
            assert done.returncode == 0, done.stderr
            text = done.stdout.decode()
            if kind == "ndjson":
                assert len([json.loads(line) for line in text.splitlines()]) == 1 + 2 + 30
            else:
                assert len(list(csv.DictReader(io.StringIO(text, newline="")))) == 1 + 2 + 30
        missing = subprocess.run(
            [sys.executable, "-m", "armada", "export", "nobody", "--url", service.url],
            env=service_environment(), capture_output=True, text=True, timeout=30)
        assert missing.returncode == 2
        assert "404" in missing.stderr and "nobody" in missing.stderr
    finally:
        service.stop()
