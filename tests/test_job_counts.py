"""A run's job counts are counted from its jobs when read, on both databases: the counts a
run carries equal a recount, whatever writes the jobs table. The table and triggers in which
earlier versions kept them on SQLite are dropped by a migration, and nothing else is."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from helpers import DERANDOMIZE, SUMMARY_COUNTS, event_body, job_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from armada.app import init_app
from armada.config import Config, SqliteSettings
from armada.const import STATUSES

RUNS = ["run-a", "run-b", "run-c"]
JOBS = [f"job-{number}" for number in range(8)]


@pytest.fixture
async def sqlite_client(aiohttp_client: Any, sqlite_path: Path) -> TestClient:
    return await aiohttp_client(init_app(Config(database=SqliteSettings(path=sqlite_path))))


def recount(path: Path) -> dict[str, dict[str, int]]:
    """Each run's counts, counted from the jobs table itself."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT run_uuid, job_status, COUNT(*) FROM armada_jobs "
                          "GROUP BY run_uuid, job_status").fetchall()
        runs = [run_uuid for (run_uuid,) in db.execute("SELECT run_uuid FROM armada_runs")]
    finally:
        db.close()
    counts = {run_uuid: dict.fromkeys(SUMMARY_COUNTS, 0) for run_uuid in runs}
    for run_uuid, status, jobs in rows:
        if run_uuid in counts:
            counts[run_uuid]["total"] += jobs
            if status in STATUSES:
                counts[run_uuid][status.lower()] += jobs
    return {run_uuid: {f"jobs_{name}": value for name, value in run.items()}
            for run_uuid, run in counts.items()}


async def served_counts(client: TestClient) -> dict[str, dict[str, int]]:
    body = await (await client.get("/api/runs/?page_size=100")).json()
    listed = {run["run_uuid"]: {key: value for key, value in run.items()
                                if key.startswith("jobs_")} for run in body["runs"]}
    for run_uuid, counts in listed.items():
        one = await (await client.get(f"/api/runs/{run_uuid}")).json()
        assert {key: value for key, value in one.items() if key.startswith("jobs_")} == counts
    return listed


OPERATIONS = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(JOBS), st.sampled_from(RUNS),
              st.sampled_from(STATUSES)),
    st.tuples(st.just("status"), st.sampled_from(JOBS), st.sampled_from(STATUSES)),
    st.tuples(st.just("delete"), st.sampled_from(RUNS)),
)


@settings(max_examples=40, deadline=None, database=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(OPERATIONS, max_size=12))
async def test_counts_served_equal_a_recount_after_any_api_writes(sqlite_client, sqlite_path,
                                                                  operations):
    for operation in operations:
        if operation[0] == "create":
            _, job_uuid, run_uuid, status = operation
            await sqlite_client.post("/api/jobs/", json=job_body(job_uuid, run_uuid,
                                                                 job_status=status))
        elif operation[0] == "status":
            _, job_uuid, status = operation
            await sqlite_client.patch("/api/jobs/status",
                                      json={"job_uuid": job_uuid, "job_status": status})
        else:
            await sqlite_client.delete(f"/api/runs/{operation[1]}")
    assert await served_counts(sqlite_client) == recount(sqlite_path)


async def test_counts_follow_jobs_written_by_another_process(sqlite_client, sqlite_path):
    for number, status in enumerate(["Running", "Running", "Failed"]):
        await sqlite_client.post("/api/jobs/", json=job_body(f"job-{number}", "run-a",
                                                             job_status=status))
    await sqlite_client.post("/api/jobs/", json=job_body("job-b", "run-b"))
    with sqlite3.connect(sqlite_path) as db:
        db.execute("INSERT INTO armada_jobs VALUES ('job-x', 'run-a', '2026-02-24 10:00:00', "
                   "'agent', 'Pending')")
        db.execute("UPDATE armada_jobs SET job_status = 'Success' WHERE job_uuid = 'job-0'")
        db.execute("UPDATE armada_jobs SET run_uuid = 'run-b' WHERE job_uuid = 'job-1'")
        db.execute("UPDATE armada_jobs SET job_status = 'odd' WHERE job_uuid = 'job-2'")
        db.execute("DELETE FROM armada_jobs WHERE job_uuid = 'job-b'")

    served = await served_counts(sqlite_client)
    assert served == recount(sqlite_path)
    assert served["run-a"] == {"jobs_total": 3, "jobs_running": 0, "jobs_success": 1,
                               "jobs_failed": 0, "jobs_pending": 1, "jobs_cancelled": 0,
                               "jobs_lost": 0}
    assert served["run-b"]["jobs_total"] == 1 and served["run-b"]["jobs_running"] == 1


# What earlier versions made to keep the counts (trigger bodies shortened): their helper,
# never Armada data.
KEPT_COUNTS = [
    "CREATE TABLE armada_job_counts (run_uuid TEXT NOT NULL, job_status TEXT NOT NULL,"
    " jobs INTEGER NOT NULL, PRIMARY KEY (run_uuid, job_status))",
    "INSERT INTO armada_job_counts SELECT run_uuid, job_status, COUNT(*) FROM armada_jobs"
    " GROUP BY run_uuid, job_status",
    "CREATE TRIGGER armada_job_counts_insert AFTER INSERT ON armada_jobs BEGIN"
    " UPDATE armada_job_counts SET jobs = jobs + 1 WHERE run_uuid = NEW.run_uuid; END",
    "CREATE TRIGGER armada_job_counts_delete AFTER DELETE ON armada_jobs BEGIN"
    " UPDATE armada_job_counts SET jobs = jobs - 1 WHERE run_uuid = OLD.run_uuid; END",
    "CREATE TRIGGER armada_job_counts_update AFTER UPDATE OF run_uuid, job_status ON armada_jobs"
    " BEGIN UPDATE armada_job_counts SET jobs = jobs WHERE run_uuid = NEW.run_uuid; END",
]


def schema_and_rows(path: Path) -> tuple[set[tuple[str, str]], dict[str, list[tuple]]]:
    """(type, name) of every table and trigger; every row of the three Armada tables."""
    db = sqlite3.connect(path)
    try:
        objects = set(db.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger')"))
        rows = {table: sorted(db.execute(f"SELECT * FROM {table}"))
                for table in ("armada_runs", "armada_jobs", "armada_events")}
    finally:
        db.close()
    return objects, rows


ARMADA_TABLES = {("table", "armada_runs"), ("table", "armada_jobs"), ("table", "armada_events")}
# The search index of event_content (issue 15): an FTS5 table, its shadow tables, its build
# progress, the queue of new events and the triggers that keep them in step.
ARMADA_TABLES |= {("table", f"armada_events_search{part}")
                  for part in ("", "_config", "_data", "_docsize", "_idx")}
ARMADA_TABLES |= {("table", "armada_search_progress"), ("table", "armada_search_queue")}
ARMADA_TABLES |= {("trigger", f"armada_search_queue_{change}")
                  for change in ("insert", "delete", "update")}
# Lost jobs (issue 14): the live jobs' last reports, kept by triggers, and the sweep's lease.
ARMADA_TABLES |= {("table", "armada_job_activity"), ("table", "armada_leases")}
ARMADA_TABLES |= {("trigger", f"armada_job_activity_{change}")
                  for change in ("job_insert", "job_status", "job_delete", "report")}
# Runs `armada purge` deleted, waiting for a service to announce them (with SQLite's own
# table of AUTOINCREMENT counters).
ARMADA_TABLES |= {("table", "armada_run_deletions"), ("table", "sqlite_sequence")}
# The alerts' outbox (issue 28): the deliveries each change owes.
ARMADA_TABLES |= {("table", "armada_alert_outbox")}


async def test_a_fresh_database_has_the_armada_tables_and_nothing_else(sqlite_client,
                                                                        sqlite_path):
    await sqlite_client.post("/api/jobs/", json=job_body("job-1", "run-a"))
    objects, _ = schema_and_rows(sqlite_path)
    assert objects == ARMADA_TABLES


async def test_the_counts_earlier_versions_kept_are_dropped_at_start_and_the_data_kept(
        aiohttp_client, sqlite_path):
    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=sqlite_path))))
    for number, status in enumerate(["Running", "Failed", "Failed"]):
        await client.post("/api/jobs/", json=job_body(f"job-{number}", "run-a", job_status=status))
        await client.post("/api/events/", json=event_body(f"event-{number}", f"job-{number}"))
    await client.close()
    with sqlite3.connect(sqlite_path) as db:  # as a database an earlier version left
        for statement in KEPT_COUNTS:
            db.execute(statement)
        db.execute("PRAGMA user_version = 0")  # versions came later (docs/upgrades.md)
    objects, rows = schema_and_rows(sqlite_path)
    assert ("table", "armada_job_counts") in objects

    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=sqlite_path))))
    served = await served_counts(client)
    assert schema_and_rows(sqlite_path) == (ARMADA_TABLES, rows)
    assert served == recount(sqlite_path)
    assert served["run-a"]["jobs_total"] == 3 and served["run-a"]["jobs_failed"] == 2
