"""The service on an existing Armada SQLite database: legacy tables, no keys, VARCHAR(255)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from helpers import event_body, job_body, job_counts

from armada import const
from armada.app import init_app
from armada.config import Config, SqliteSettings

# Exactly as existing Armada databases have them: no keys, no indexes.
LEGACY_TABLES = (
    "CREATE TABLE armada_runs (run_uuid VARCHAR(255), run_datetime DATETIME)",
    "CREATE TABLE armada_jobs (job_uuid VARCHAR(255), run_uuid VARCHAR(255), "
    "job_datetime DATETIME, job_associated_agent VARCHAR(255), job_status VARCHAR(255))",
    "CREATE TABLE armada_events (event_uuid VARCHAR(255), event_content VARCHAR(255), "
    "job_uuid VARCHAR(255), event_datetime DATETIME, event_status VARCHAR(255))",
)
# Rows as the previous (SQLAlchemy) service wrote them.
LEGACY_ROWS = (
    "INSERT INTO armada_runs VALUES ('old-run', '2026-02-24 10:30:00.000000')",
    "INSERT INTO armada_jobs VALUES ('old-job', 'old-run', '2026-02-24 10:31:00.500000', "
    "'agent-7', 'Success')",
    "INSERT INTO armada_events VALUES ('old-event-1', 'Page loaded', 'old-job', "
    "'2026-02-24 10:32:00.000000', 'Success')",
    "INSERT INTO armada_events VALUES ('old-event-2', 'Form submitted', 'old-job', "
    "'2026-02-24 10:33:00.250000', 'Failed')",
)
SERVICE_INDEXES = {
    "ix_armada_runs_datetime", "ix_armada_jobs_datetime", "ix_armada_jobs_run",
    "ix_armada_jobs_run_status", "ix_armada_events_job", "ix_armada_runs_run_uuid",
    "ix_armada_jobs_job_uuid", "ix_armada_events_event_uuid",
}


@pytest.fixture
def legacy_db(sqlite_path: Path) -> Path:
    with sqlite3.connect(sqlite_path) as db:
        for statement in LEGACY_TABLES + LEGACY_ROWS:
            db.execute(statement)
    return sqlite_path


@pytest.fixture
async def legacy_client(aiohttp_client: Any, legacy_db: Path) -> TestClient:
    return await aiohttp_client(init_app(Config(database=SqliteSettings(path=legacy_db))))


def read(path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


async def test_legacy_rows_are_listed_with_their_datetimes(legacy_client: TestClient):
    runs = await (await legacy_client.get("/api/runs/")).json()
    jobs = await (await legacy_client.get("/api/jobs/?run_uuid=old-run")).json()
    events = await (await legacy_client.get("/api/events/?job_uuid=old-job")).json()

    assert runs["runs"] == [{"run_uuid": "old-run", "run_datetime": "2026-02-24T10:30:00.000Z",
                             **job_counts(total=1, success=1)}]
    assert jobs["jobs"] == [{
        "job_uuid": "old-job", "run_uuid": "old-run", "job_datetime": "2026-02-24T10:31:00.500Z",
        "job_associated_agent": "agent-7", "job_status": "Success",
    }]
    assert [(e["event_uuid"], e["event_datetime"]) for e in events] == [
        ("old-event-2", "2026-02-24T10:33:00.250Z"),
        ("old-event-1", "2026-02-24T10:32:00.000Z"),
    ]


async def test_legacy_events_without_a_datetime_end_the_whole_lists(
        legacy_db: Path, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(const, "EVENTS_LIST_CHUNK", 2)  # the undated tail over several reads
    with sqlite3.connect(legacy_db) as db:
        for n in range(5):
            db.execute("INSERT INTO armada_events VALUES (?, 'no date', 'old-job', NULL, "
                       "'Success')", (f"undated-{n}",))
    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=legacy_db))))
    undated = [f"undated-{n}" for n in range(5)]

    for query in ("?job_uuid=old-job", ""):
        events = await (await client.get(f"/api/events/{query}")).json()
        assert [e["event_uuid"] for e in events] == ["old-event-2", "old-event-1", *undated]
        assert all(e["event_datetime"] is None for e in events[2:])
    failed = await (await client.get("/api/events/?status=Failed")).json()
    assert [e["event_uuid"] for e in failed] == ["old-event-2"]
    ranged = await (await client.get("/api/events/?since=2026-01-01T00:00:00")).json()
    assert [e["event_uuid"] for e in ranged] == ["old-event-2", "old-event-1"]


async def test_new_writes_sort_among_legacy_rows(legacy_client: TestClient):
    for run_uuid, when in (("later-run", "2026-02-24T10:45:00.000"),
                           ("earlier-run", "2026-02-24T10:15:00.000")):
        body = {"run_uuid": run_uuid, "run_datetime": when}
        assert (await legacy_client.post("/api/runs/", json=body)).status == 201
    job = job_body("new-job", "old-run")
    assert (await legacy_client.post("/api/jobs/", json=job)).status == 201
    event = event_body("new-event", job_uuid="old-job", event_datetime="2026-02-24T10:32:30.000")
    assert (await legacy_client.post("/api/events/", json=event)).status == 201

    runs = await (await legacy_client.get("/api/runs/")).json()
    events = await (await legacy_client.get("/api/events/?job_uuid=old-job")).json()
    assert [run["run_uuid"] for run in runs["runs"]] == ["later-run", "old-run", "earlier-run"]
    assert [e["event_uuid"] for e in events] == ["old-event-2", "new-event", "old-event-1"]


async def test_repeated_run_is_idempotent_on_a_table_without_a_key(
        legacy_client: TestClient, legacy_db: Path):
    again = {"run_uuid": "old-run", "run_datetime": "2026-03-01T00:00:00.000"}
    response = await legacy_client.post("/api/runs/", json=again)

    assert response.status == 200
    assert await response.json() == {
        "run_uuid": "old-run", "run_datetime": "2026-02-24T10:30:00.000Z",
    }
    assert read(legacy_db, "SELECT COUNT(*) FROM armada_runs WHERE run_uuid = 'old-run'") == [(1,)]


async def test_repeated_event_is_idempotent_on_a_table_without_a_key(
        legacy_client: TestClient, legacy_db: Path):
    body = event_body("new-event", job_uuid="old-job")
    first = await legacy_client.post("/api/events/", json=body)
    again = await legacy_client.post("/api/events/", json=body)
    batch = await legacy_client.post("/api/events/batch", json={"events": [body]})

    assert (first.status, again.status, batch.status) == (201, 200, 200)
    assert (await batch.json())["existing"] == ["new-event"]
    assert read(legacy_db, "SELECT COUNT(*) FROM armada_events "
                           "WHERE event_uuid = 'new-event'") == [(1,)]


async def test_event_content_longer_than_the_legacy_column_is_refused(
        legacy_client: TestClient, legacy_db: Path):
    body = event_body("long-event", job_uuid="old-job", event_content="x" * 256)
    response = await legacy_client.post("/api/events/", json=body)

    assert response.status == 422
    answer = await response.json()
    assert answer["error"] == "validation_error"
    assert "event_content" in answer["fields"]
    assert "255" in answer["detail"] and "event_content" in answer["detail"]
    assert read(legacy_db, "SELECT COUNT(*) FROM armada_events "
                           "WHERE event_uuid = 'long-event'") == [(0,)]


async def test_event_content_of_exactly_255_characters_is_stored(legacy_client: TestClient):
    body = event_body("full-event", job_uuid="old-job", event_content="é" * 255)
    response = await legacy_client.post("/api/events/", json=body)

    assert response.status == 201
    events = await (await legacy_client.get("/api/events/?job_uuid=old-job")).json()
    assert {e["event_uuid"]: e["event_content"] for e in events}["full-event"] == "é" * 255


async def test_legacy_tables_are_kept_and_the_needed_indexes_added(legacy_db: Path,
                                                                    aiohttp_client: Any):
    tables_before = read(legacy_db, "SELECT name, sql FROM sqlite_master WHERE type = 'table'")

    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=legacy_db))))
    assert (await client.get("/api/runs/")).status == 200

    tables_after = read(legacy_db, "SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    # The legacy tables exactly as they were, and no table added but the search index's own
    # (the FTS5 table, its shadow tables, its build progress: docs/architecture.md), those of
    # lost jobs (docs/architecture.md, Lost jobs) and the purge command's deletions waiting to
    # be announced, the alerts' outbox (docs/alerts.md), and SQLite's own table of
    # AUTOINCREMENT counters.
    assert [(name, sql) for name, sql in tables_after
            if not name.startswith(("armada_events_search", "armada_search_progress",
                                    "armada_search_queue", "armada_job_activity",
                                    "armada_leases", "armada_run_deletions", "armada_alert_outbox",
                                    "sqlite_sequence"))
            ] == tables_before
    assert read(legacy_db, "SELECT COUNT(*) FROM armada_events") == [(2,)]
    assert read(legacy_db, "SELECT * FROM armada_jobs") == [
        ("old-job", "old-run", "2026-02-24 10:31:00.500000", "agent-7", "Success"),
    ]
    for table in ("armada_runs", "armada_jobs", "armada_events"):
        keys = read(legacy_db, f"SELECT pk FROM pragma_table_info('{table}') WHERE pk > 0")
        assert keys == [], f"{table} gained a primary key"
    indexes = {name for (name,) in read(
        legacy_db, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert indexes >= SERVICE_INDEXES


async def test_the_triage_read_of_a_run_answers_legacy_jobs_without_a_datetime(
        legacy_db: Path, aiohttp_client: Any):
    with sqlite3.connect(legacy_db) as db:
        db.execute("INSERT INTO armada_jobs VALUES ('undated-job', 'old-run', NULL, 'agent-8', "
                   "'Failed')")
        db.execute("INSERT INTO armada_events VALUES ('undated-event', 'Crashed\nat line 3', "
                   "'undated-job', '2026-02-24 10:40:00.000000', 'Failed')")
    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=legacy_db))))

    response = await client.get("/api/triage/runs/old-run")
    assert response.status == 200
    jobs = {job["job_uuid"]: job for job in (await response.json())["jobs"]}
    assert jobs["undated-job"]["last_report_datetime"] == "2026-02-24T10:40:00.000Z"
    assert jobs["undated-job"]["failure"] == "Crashed"
    assert jobs["old-job"]["last_report_datetime"] == "2026-02-24T10:33:00.250Z"
