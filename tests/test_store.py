"""The store through the running app, checked in the real SQLite file.

SQLite only: these tests look inside the database file and lock or break it from outside.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from helpers import RUN, event_body, job_body, job_counts, next_message, no_message

from armada import const
from armada.app import init_app
from armada.changes import Change
from armada.config import Config, ConfigError, SqliteSettings
from armada.errors import Conflict, NotFound
from armada.keys import store_key
from armada.store import Store

SIMULTANEOUS_POSTS = 20
BUSY_TIMEOUT = 0.3


@pytest.fixture
def database(sqlite_path: Path) -> SqliteSettings:
    return SqliteSettings(path=sqlite_path)


def rows(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def count(path: Path, table: str) -> int:
    return rows(path, f"SELECT COUNT(*) FROM {table}")[0][0]


async def assert_unavailable(response: Any) -> None:
    assert response.status == 503
    assert response.headers["Retry-After"] == str(const.RETRY_AFTER_SECONDS)
    body = await response.json()
    assert body["error"] == "database_unavailable"
    assert body["detail"]


class RecordingSink:
    """Keeps what the store hands over, one list of changes per committed write."""

    def __init__(self) -> None:
        self.handed: list[list[Change]] = []
        self.commits_unknown = 0

    def committed(self, changes: Sequence[Change]) -> None:
        self.handed.append(list(changes))

    def commit_unknown(self) -> None:
        self.commits_unknown += 1

    def take(self) -> list[list[Change]]:
        handed, self.handed = self.handed, []
        return handed


async def post_run_with_jobs_and_events(client: TestClient, run_uuid: str, jobs: int = 2,
                                        events: int = 2) -> None:
    run = {"run_uuid": run_uuid, "run_datetime": "2026-02-24T10:30:00.000"}
    assert (await client.post("/api/runs/", json=run)).status == 201
    for j in range(jobs):
        job_uuid = f"{run_uuid}-job-{j}"
        assert (await client.post("/api/jobs/", json=job_body(job_uuid, run_uuid))).status == 201
        for e in range(events):
            body = event_body(f"{job_uuid}-event-{e}", job_uuid=job_uuid)
            assert (await client.post("/api/events/", json=body)).status == 201


# Idempotent run registration


async def test_simultaneous_posts_of_one_run_store_one_row_and_broadcast_once(
        client: TestClient, subscribe: Any, sqlite_path: Path):
    ws = await subscribe()

    responses = await asyncio.gather(*(
        client.post("/api/runs/", json=RUN) for _ in range(SIMULTANEOUS_POSTS)
    ))

    statuses = sorted(response.status for response in responses)
    assert statuses == [200] * (SIMULTANEOUS_POSTS - 1) + [201]
    for response in responses:
        assert await response.json() == {
            "run_uuid": "run-1", "run_datetime": "2026-02-24T10:30:00.000Z",
        }
    assert rows(sqlite_path, "SELECT run_uuid FROM armada_runs") == [("run-1",)]
    assert (await next_message(ws))["type"] == "new_run"
    await no_message(ws)


async def test_simultaneous_jobs_of_an_unregistered_run_create_it_once(
        client: TestClient, subscribe: Any, sqlite_path: Path):
    ws = await subscribe()

    responses = await asyncio.gather(*(
        client.post("/api/jobs/", json=job_body(f"job-{n}")) for n in range(SIMULTANEOUS_POSTS)
    ))

    assert [response.status for response in responses] == [201] * SIMULTANEOUS_POSTS
    assert rows(sqlite_path, "SELECT run_uuid FROM armada_runs") == [("run-1",)]
    assert count(sqlite_path, "armada_jobs") == SIMULTANEOUS_POSTS
    types = [(await next_message(ws))["type"] for _ in range(SIMULTANEOUS_POSTS + 1)]
    assert types == ["new_run"] + ["new_job"] * SIMULTANEOUS_POSTS


# Cascade delete: one transaction


async def test_delete_run_removes_its_jobs_and_events(client: TestClient, sqlite_path: Path):
    await post_run_with_jobs_and_events(client, "doomed")
    await post_run_with_jobs_and_events(client, "kept", jobs=1, events=1)

    response = await client.delete("/api/runs/doomed")

    assert response.status == 200
    assert await response.json() == {"ok": True}
    assert rows(sqlite_path, "SELECT run_uuid FROM armada_runs") == [("kept",)]
    assert rows(sqlite_path, "SELECT job_uuid FROM armada_jobs") == [("kept-job-0",)]
    assert rows(sqlite_path, "SELECT event_uuid FROM armada_events") == [("kept-job-0-event-0",)]


async def test_a_delete_that_fails_midway_leaves_everything(
        client: TestClient, subscribe: Any, sqlite_path: Path):
    await post_run_with_jobs_and_events(client, "run-1")
    ws = await subscribe()
    # The run row goes last, after its events and jobs: refusing it proves the rollback.
    with sqlite3.connect(sqlite_path) as db:
        db.execute("CREATE TRIGGER protect_runs BEFORE DELETE ON armada_runs "
                   "BEGIN SELECT RAISE(ABORT, 'runs are protected'); END")

    response = await client.delete("/api/runs/run-1")

    # The database refused a valid request: a server-side failure, not the client's fault,
    # and not "unavailable" (retrying would not help); the body is the JSON error shape.
    assert response.status == 500
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["error"] == "internal_error"
    assert "Traceback" not in body["detail"]
    assert count(sqlite_path, "armada_runs") == 1
    assert count(sqlite_path, "armada_jobs") == 2
    assert count(sqlite_path, "armada_events") == 4
    await no_message(ws)

    with sqlite3.connect(sqlite_path) as db:
        db.execute("DROP TRIGGER protect_runs")
    assert (await client.delete("/api/runs/run-1")).status == 200
    assert (await next_message(ws)) == {"type": "delete_run", "data": {"run_uuid": "run-1"}}
    assert count(sqlite_path, "armada_events") == 0


# A database locked by another process


async def test_a_write_on_a_locked_database_answers_503_then_succeeds_once_released(
        make_client: Any, sqlite_path: Path):
    client = await make_client(db_timeout=BUSY_TIMEOUT)
    locker = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        response = await client.post("/api/runs/", json=RUN)
        waited = time.monotonic() - started

        await assert_unavailable(response)
        assert BUSY_TIMEOUT * 0.8 <= waited < BUSY_TIMEOUT + 1.5
        # WAL: readers are not blocked by a writer.
        assert (await client.get("/api/runs/")).status == 200
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    assert (await client.post("/api/runs/", json=RUN)).status == 201
    assert count(sqlite_path, "armada_runs") == 1


WRITE_TIMEOUT = 1.0


async def timed_post(client: TestClient, after: float, run_uuid: str) -> tuple[int, float]:
    await asyncio.sleep(after)
    started = time.monotonic()
    response = await client.post("/api/runs/", json={**RUN, "run_uuid": run_uuid})
    return response.status, time.monotonic() - started


async def test_each_write_gets_its_503_at_its_own_deadline_while_another_connection_holds_the_lock(
        make_client: Any, sqlite_path: Path):
    client = await make_client(db_timeout=WRITE_TIMEOUT)
    assert (await client.get("/readyz")).status == 200  # the schema exists
    locker = sqlite3.connect(sqlite_path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        # One write every 0.2 s while the lock is held 1.5 s beyond the last one's start.
        writes = [asyncio.create_task(timed_post(client, 0.2 * n, f"run-{n}"))
                  for n in range(8)]
        await asyncio.sleep(0.2 * 7 + WRITE_TIMEOUT + 0.5)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    answers = await asyncio.gather(*writes)

    # None waited behind the one before for a second timeout, none succeeded past its own.
    assert [status for status, _ in answers] == [503] * len(answers), answers
    assert all(WRITE_TIMEOUT * 0.8 <= waited < WRITE_TIMEOUT * 1.5 for _, waited in answers), \
        answers
    assert (await client.post("/api/runs/", json=RUN)).status == 201


# Broken connections and a database that cannot be opened


async def test_connections_closed_behind_the_stores_back_are_replaced(sqlite_path: Path):
    store = Store(Config(database=SqliteSettings(path=sqlite_path), db_workers=2))
    await store.open()
    try:
        await asyncio.gather(*(store.list_runs(1, 10) for _ in range(4)))
        assert store._connections
        for connection in list(store._connections):
            connection.close()

        run = {"run_uuid": "run-1", "run_datetime": datetime(2026, 2, 24, 10, 30)}
        written = await store.create_run(run)
        assert (written.record, written.created) == (run, True)
        results = await asyncio.gather(*(store.list_runs(1, 10) for _ in range(4)))
        assert results == [([{**run, **job_counts()}], 1)] * 4
    finally:
        await store.close()


async def test_a_database_that_cannot_be_opened_at_start_stops_the_start_naming_the_path(
        aiohttp_client: Any, tmp_path: Path):
    database = tmp_path / "not-yet" / "armada.db"

    with pytest.raises(ConfigError) as caught:
        await aiohttp_client(init_app(Config(database=SqliteSettings(path=database))))

    assert str(caught.value) == f"ARMADA_DB_PATH: {database}: unable to open database file"
    assert not database.parent.exists()


async def test_a_database_whose_folder_vanished_answers_503_until_it_is_back(
        aiohttp_client: Any, tmp_path: Path):
    folder = tmp_path / "data"
    folder.mkdir()
    # No lost-jobs sweep: its reads would use the connections closed below from this thread.
    client = await aiohttp_client(init_app(Config(
        database=SqliteSettings(path=folder / "armada.db"), db_timeout=BUSY_TIMEOUT,
        job_stale_after=None)))
    assert (await client.post("/api/runs/", json=RUN)).status == 201

    shutil.rmtree(folder)
    # Open handles would keep using the unlinked file; the lost volume takes them with it.
    for connection in list(client.app[store_key]._connections):
        connection.close()

    await assert_unavailable(await client.get("/api/runs/"))
    await assert_unavailable(await client.post("/api/runs/", json=RUN))

    folder.mkdir()
    assert (await client.post("/api/runs/", json=RUN)).status == 201
    assert (await (await client.get("/api/runs/")).json())["total"] == 1


# What each write changed, handed to the store's sink


WHEN = datetime(2026, 2, 24, 10, 30)


def job_record(job_uuid: str, run_uuid: str) -> dict[str, Any]:
    return {"job_uuid": job_uuid, "run_uuid": run_uuid, "job_datetime": WHEN,
            "job_associated_agent": "agent-1", "job_status": "Running"}


def event_record(event_uuid: str, job_uuid: str, content: str = "Page loaded"
                 ) -> dict[str, Any]:
    return {"event_uuid": event_uuid, "event_content": content, "job_uuid": job_uuid,
            "event_datetime": WHEN, "event_status": "Running"}


async def test_each_write_hands_the_sink_what_it_changed_with_its_run_and_job(
        sqlite_path: Path):
    sink = RecordingSink()
    store = Store(Config(database=SqliteSettings(path=sqlite_path)), sink=sink)
    await store.open()
    try:
        job = job_record("job-1", "run-1")
        await store.create_job(job)
        # Handed over before the caller resumes: the stream is told before the answer.
        assert sink.take() == [[
            Change("new_run", {"run_uuid": "run-1", "run_datetime": WHEN}, "run-1"),
            Change("new_job", job, "run-1", "job-1"),
        ]]
        await store.create_job(job)
        await store.create_run({"run_uuid": "run-1", "run_datetime": WHEN})
        assert sink.take() == []  # repeats change nothing

        event = event_record("event-1", "job-1")
        await store.create_event(event)
        await store.create_event(event)
        assert sink.take() == [[Change("new_event", event, "run-1", "job-1")]]

        await store.update_job_status("job-1", "Failed")
        await store.update_event_status("event-1", "Success")
        assert sink.take() == [
            # Its status before, and the run's once its last live job ended (metrics).
            [Change("update_job_status", {"job_uuid": "job-1", "job_status": "Failed"},
                    "run-1", "job-1", "Running", "Failed")],
            [Change("update_event_status", {"event_uuid": "event-1", "event_status": "Success"},
                    "run-1", "job-1")],
        ]

        repeat = {**event, "event_status": "Success"}
        batch = [event_record("event-2", "job-1"), repeat, event_record("event-3", "job-1")]
        await store.create_events(batch)
        assert sink.take() == [[Change("new_event", batch[0], "run-1", "job-1"),
                                Change("new_event", batch[2], "run-1", "job-1")]]

        await store.delete_run("run-1")
        assert sink.take() == [[Change("delete_run", {"run_uuid": "run-1"}, "run-1")]]
        await store.create_job(job_record("job-2", "run-2"))
        sink.take()
        purged = await store.purge_run("run-2")
        assert purged is not None and (purged.jobs, purged.events) == (1, 0)
        assert sink.take() == [[Change("delete_run", {"run_uuid": "run-2"}, "run-2")]]
    finally:
        await store.close()


async def test_the_run_of_a_change_is_read_from_the_database_in_the_writes_transaction(
        sqlite_path: Path):
    sink = RecordingSink()
    store = Store(Config(database=SqliteSettings(path=sqlite_path)), sink=sink)
    await store.open()
    try:
        # A job this store never saw: written by another replica or another Armada service.
        with sqlite3.connect(sqlite_path) as db:
            db.execute("INSERT INTO armada_jobs VALUES ('job-x', 'run-x', "
                       "'2026-02-24 10:30:00.000', 'agent-1', 'Running')")
        event = event_record("event-1", "job-x")

        await store.create_event(event)
        await store.update_job_status("job-x", "Success")
        await store.update_event_status("event-1", "Failed")

        assert [(change.type, change.run_uuid, change.job_uuid)
                for handed in sink.take() for change in handed] == [
            ("new_event", "run-x", "job-x"),
            ("update_job_status", "run-x", "job-x"),
            ("update_event_status", "run-x", "job-x"),
        ]
    finally:
        await store.close()


async def test_refused_writes_hand_the_sink_nothing(sqlite_path: Path):
    sink = RecordingSink()
    store = Store(Config(database=SqliteSettings(path=sqlite_path)), sink=sink)
    await store.open()
    try:
        await store.create_job(job_record("job-1", "run-1"))
        await store.create_event(event_record("event-1", "job-1"))
        sink.take()
        refusals = [
            (store.create_event(event_record("event-2", "no-such-job")), NotFound),
            (store.create_event(event_record("event-1", "job-1", "other")), Conflict),
            (store.create_events([event_record("event-3", "job-1"),
                                  event_record("event-4", "no-such-job")]), NotFound),
            (store.update_job_status("no-such-job", "Failed"), NotFound),
            (store.update_event_status("no-such-event", "Failed"), NotFound),
            (store.delete_run("no-such-run"), NotFound),
            (store.create_job({**job_record("job-1", "run-1"), "job_associated_agent": "other"}),
             Conflict),
        ]
        for write, refused in refusals:
            with pytest.raises(refused):
                await write

        assert sink.take() == []
        assert rows(sqlite_path, "SELECT event_uuid FROM armada_events") == [("event-1",)]
    finally:
        await store.close()
