"""Retention: old runs go with their jobs and events, `delete_run` is broadcast; the
`purge` command does it once and prints what it removed. A run is old when its last report
is (the newest of its, its jobs' and their events' datetimes) and no job of it is Running or
Pending."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from helpers import event_body, job_body, next_message, no_message
from server_process import REPO_ROOT, ServiceProcess, service_environment

from armada.cli.purge import parse_age
from armada.config import Config, SqliteSettings
from armada.retention import cutoff_before
from armada.store import Store

OLD = "2020-01-01T00:00:00.000"


@pytest.fixture
def database(sqlite_path: Path) -> SqliteSettings:
    return SqliteSettings(path=sqlite_path)


def recent() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000")


def uuids(path: Path, table: str, column: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return sorted(row[0] for row in db.execute(f"SELECT {column} FROM {table}"))


async def post_run(client: Any, run_uuid: str, when: str) -> None:
    assert (await client.post("/api/runs/", json={"run_uuid": run_uuid,
                                                   "run_datetime": when})).status == 201
    job = job_body(f"{run_uuid}-job", run_uuid, job_datetime=when, job_status="Success")
    assert (await client.post("/api/jobs/", json=job)).status == 201
    event = event_body(f"{run_uuid}-event", f"{run_uuid}-job", event_datetime=when)
    assert (await client.post("/api/events/", json=event)).status == 201


async def test_the_background_task_deletes_old_runs_and_broadcasts_it(
        make_client: Any, sqlite_path: Path) -> None:
    client = await make_client(retention_days=30, retention_interval=0.2)
    ws = await client.ws_connect("/ws/events/")
    await post_run(client, "recent", recent())
    await post_run(client, "old", OLD)

    messages = [await next_message(ws) for _ in range(7)]

    assert messages[-1]["type"] == "delete_run"
    assert messages[-1]["data"] == {"run_uuid": "old"}
    assert uuids(sqlite_path, "armada_runs", "run_uuid") == ["recent"]
    assert uuids(sqlite_path, "armada_jobs", "job_uuid") == ["recent-job"]
    assert uuids(sqlite_path, "armada_events", "event_uuid") == ["recent-event"]
    await ws.close()


async def post_old_run(client: Any, run_uuid: str, job_status: str = "Success",
                       event_datetime: str = OLD) -> None:
    """A run, its job and one event, all dated OLD unless the event is dated otherwise."""
    job = job_body(f"{run_uuid}-job", run_uuid, job_datetime=OLD, job_status=job_status)
    assert (await client.post("/api/jobs/", json=job)).status == 201
    event = event_body(f"{run_uuid}-event", f"{run_uuid}-job", event_datetime=event_datetime)
    assert (await client.post("/api/events/", json=event)).status == 201


async def test_a_run_is_old_by_its_last_report_and_kept_while_a_job_is_live(
        make_client: Any, sqlite_path: Path) -> None:
    client = await make_client()
    await post_old_run(client, "old")
    await post_old_run(client, "reported-lately", event_datetime=recent())
    await post_old_run(client, "running", job_status="Running")
    await post_old_run(client, "pending", job_status="Pending")

    dry = purge(sqlite_path, "--older-than", "30d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete run old " in dry.stdout and "would delete 1 runs" in dry.stdout

    await make_client(retention_days=30, retention_interval=0.1)
    deadline = time.monotonic() + 5
    while "old" in uuids(sqlite_path, "armada_runs", "run_uuid"):
        assert time.monotonic() < deadline, "the old run was never deleted"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # five more passes
    assert uuids(sqlite_path, "armada_runs", "run_uuid") == ["pending", "reported-lately",
                                                              "running"]


async def test_an_agent_of_a_run_dated_long_ago_keeps_reporting_through_retention(
        make_client: Any, sqlite_path: Path) -> None:
    client = await make_client(retention_days=30, retention_interval=0.02)
    await post_old_run(client, "run-2020", job_status="Running")
    for number in range(40):
        event = event_body(f"step-{number}", "run-2020-job", event_datetime=OLD)
        assert (await client.post("/api/events/", json=event)).status == 201
        await asyncio.sleep(0.01)
    assert len(uuids(sqlite_path, "armada_events", "event_uuid")) == 41


async def test_a_run_that_reported_after_it_was_listed_is_not_purged(
        client: Any, sqlite_path: Path) -> None:
    await post_old_run(client, "old")
    store = Store(Config(database=SqliteSettings(path=sqlite_path)))
    await store.open()
    try:
        cutoff = cutoff_before(timedelta(days=30))
        [listed] = await store.list_runs_older_than(cutoff, 10)
        late = event_body("late", "old-job", event_datetime=recent())
        assert (await client.post("/api/events/", json=late)).status == 201

        assert await store.purge_run(listed["run_uuid"], old_before=cutoff) is None
    finally:
        await store.close()
    assert uuids(sqlite_path, "armada_events", "event_uuid") == ["late", "old-event"]


def purge(db_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "armada", "purge", *args], cwd=db_path.parent,
        env=service_environment(ARMADA_DB_PATH=str(db_path), PYTHONPATH=str(REPO_ROOT)),
        capture_output=True, text=True, timeout=30,
    )


@pytest.mark.slow
async def test_the_purge_command_prints_what_it_removes(client: Any, sqlite_path: Path) -> None:
    await post_run(client, "recent", recent())
    await post_run(client, "old-1", OLD)
    await post_run(client, "old-2", "2021-06-01T00:00:00.000")

    dry = purge(sqlite_path, "--older-than", "30d", "--dry-run")

    assert dry.returncode == 0, dry.stderr
    assert "would delete run old-1" in dry.stdout and "would delete run old-2" in dry.stdout
    assert "2 runs" in dry.stdout
    assert uuids(sqlite_path, "armada_runs", "run_uuid") == ["old-1", "old-2", "recent"]

    done = purge(sqlite_path, "--older-than", "30d")

    assert done.returncode == 0, done.stderr
    assert "deleted run old-1 (2020-01-01T00:00:00.000Z): 1 jobs, 1 events" in done.stdout
    assert "deleted 2 runs" in done.stdout
    assert uuids(sqlite_path, "armada_runs", "run_uuid") == ["recent"]
    assert uuids(sqlite_path, "armada_events", "event_uuid") == ["recent-event"]


@pytest.mark.slow
@pytest.mark.external
async def test_runs_the_purge_command_deletes_are_announced_to_the_services_subscribers(
        tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path / "armada.db", tmp_path)
    await asyncio.to_thread(service.start)
    try:
        async with aiohttp.ClientSession(base_url=service.url) as session:
            for run_uuid, when in (("recent", recent()), ("old-1", OLD),
                                   ("old-2", "2021-06-01T00:00:00.000"), ("old-3", OLD)):
                await post_run(session, run_uuid, when)
            ws = await session.ws_connect("/ws/events/")

            done = await asyncio.to_thread(purge, service.db_path, "--older-than", "30d")

            assert done.returncode == 0, done.stderr
            announced = [await next_message(ws) for _ in range(3)]
            assert sorted(announced, key=str) == [
                {"type": "delete_run", "data": {"run_uuid": run_uuid}}
                for run_uuid in ("old-1", "old-2", "old-3")]
            await no_message(ws, within=2.5)  # once each: taken from the table as announced
            assert uuids(service.db_path, "armada_run_deletions", "run_uuid") == []
            await ws.close()
    finally:
        await asyncio.to_thread(service.stop)


async def deletions_announced(*subscribers: Any, expected: int) -> list[str]:
    """The runs of the delete_run messages the subscribers get, until `expected` came, then
    nothing more for a while."""
    runs: list[str] = []
    async with asyncio.timeout(10):
        while len(runs) < expected:
            for ws in subscribers:
                try:
                    message = await next_message(ws, within=0.1)
                except TimeoutError:
                    continue
                assert message["type"] == "delete_run", message
                runs.append(message["data"]["run_uuid"])
    for ws in subscribers:
        await no_message(ws, within=1.5)
    return runs


@pytest.mark.slow
async def test_each_run_the_purge_command_deletes_is_announced_once_among_replicas(
        make_client: Any, sqlite_path: Path) -> None:
    first, second = await make_client(), await make_client()
    old = [f"old-{n}" for n in range(10)]
    for run_uuid in old:
        await post_run(first, run_uuid, OLD)
    subscribers = [await first.ws_connect("/ws/events/"), await second.ws_connect("/ws/events/")]

    done = await asyncio.to_thread(purge, sqlite_path, "--older-than", "30d")

    assert done.returncode == 0, done.stderr
    assert sorted(await deletions_announced(*subscribers, expected=len(old))) == old
    for ws in subscribers:
        await ws.close()


@pytest.mark.slow
async def test_the_dry_run_prints_the_jobs_and_events_the_purge_then_deletes(
        client: Any, sqlite_path: Path) -> None:
    await post_run(client, "recent", recent())
    await post_run(client, "old-1", OLD)
    await post_run(client, "old-2", "2021-06-01T00:00:00.000")
    second_job = job_body("old-1-job-2", "old-1", job_datetime=OLD, job_status="Failed")
    assert (await client.post("/api/jobs/", json=second_job)).status == 201
    for n in range(2):
        event = event_body(f"old-1-event-{n}", "old-1-job-2", event_datetime=OLD)
        assert (await client.post("/api/events/", json=event)).status == 201

    dry = purge(sqlite_path, "--older-than", "30d", "--dry-run")

    assert dry.returncode == 0, dry.stderr
    assert "would delete run old-1 (2020-01-01T00:00:00.000Z): 2 jobs, 3 events" in dry.stdout
    assert "would delete run old-2 (2021-06-01T00:00:00.000Z): 1 jobs, 1 events" in dry.stdout
    assert "would delete 2 runs older than " in dry.stdout
    assert dry.stdout.rstrip().endswith(": 3 jobs, 4 events (dry run)")
    assert len(uuids(sqlite_path, "armada_events", "event_uuid")) == 5  # nothing deleted

    done = purge(sqlite_path, "--older-than", "30d")

    assert "deleted run old-1 (2020-01-01T00:00:00.000Z): 2 jobs, 3 events" in done.stdout
    assert done.stdout.rstrip().endswith(": 3 jobs, 4 events")


@pytest.mark.parametrize("dry_run", [["--dry-run"], []], ids=["dry run", "purge"])
def test_a_purge_where_no_database_exists_is_an_error_and_creates_none(
        tmp_path: Path, dry_run: list[str]) -> None:
    result = purge(tmp_path / "armada.db", "--older-than", "30d", *dry_run)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"armada: configuration error: ARMADA_DB_PATH: {tmp_path / 'armada.db'} does not "
        "exist: there is nothing to purge"]
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_a_dry_run_writes_nothing_not_even_the_tables_and_indexes_the_service_would_add(
        tmp_path: Path) -> None:
    # A database as another Armada service left it: its three tables, no index, no WAL.
    database = tmp_path / "armada.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE armada_runs (run_uuid VARCHAR(255), run_datetime DATETIME)")
        db.execute("CREATE TABLE armada_jobs (job_uuid VARCHAR(255), run_uuid VARCHAR(255), "
                   "job_datetime DATETIME, job_associated_agent VARCHAR(255), "
                   "job_status VARCHAR(255))")
        db.execute("CREATE TABLE armada_events (event_uuid VARCHAR(255), "
                   "event_content VARCHAR(255), job_uuid VARCHAR(255), "
                   "event_datetime DATETIME, event_status VARCHAR(255))")
        db.execute("INSERT INTO armada_runs VALUES ('old-run', '2020-01-01 00:00:00.000000')")
        db.execute("INSERT INTO armada_jobs VALUES ('old-job', 'old-run', "
                   "'2020-01-01 00:01:00.000000', 'agent-7', 'Success')")
    db.close()
    before = files(tmp_path)

    dry = purge(database, "--older-than", "30d", "--dry-run")

    assert dry.returncode == 0, dry.stderr
    assert "would delete run old-run (2020-01-01T00:00:00.000Z): 1 jobs, 0 events" in dry.stdout
    assert files(tmp_path) == before


def test_the_purge_command_refuses_a_malformed_age(tmp_path: Path) -> None:
    result = purge(tmp_path / "armada.db", "--older-than", "soon")

    assert result.returncode == 2
    assert "30d" in result.stderr


@pytest.mark.parametrize("text, age", [
    ("30d", timedelta(days=30)), ("7", timedelta(days=7)), ("12h", timedelta(hours=12)),
    ("90m", timedelta(minutes=90)), ("45s", timedelta(seconds=45)),
    ("1.5d", timedelta(hours=36)),
])
def test_ages_read_as_every_duration_setting_a_plain_number_in_days(text: str,
                                                                    age: timedelta) -> None:
    assert parse_age(text) == age
