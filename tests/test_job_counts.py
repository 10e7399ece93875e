"""SQLite keeps each run's job counts in armada_job_counts, by triggers: the counts a run
carries stay equal to counting its jobs, whatever writes the jobs table."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from helpers import DERANDOMIZE, SUMMARY_COUNTS, job_body
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
                               "jobs_failed": 0, "jobs_pending": 1, "jobs_cancelled": 0}
    assert served["run-b"]["jobs_total"] == 1 and served["run-b"]["jobs_running"] == 1


async def test_counts_of_jobs_written_before_the_counts_existed_are_filled_in(
        aiohttp_client, sqlite_path):
    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=sqlite_path))))
    for number, status in enumerate(["Running", "Failed", "Failed"]):
        await client.post("/api/jobs/", json=job_body(f"job-{number}", "run-a", job_status=status))
    await client.close()
    with sqlite3.connect(sqlite_path) as db:  # as a database from before this table was
        db.execute("DROP TABLE armada_job_counts")
        for trigger in ("insert", "delete", "update"):
            db.execute(f"DROP TRIGGER armada_job_counts_{trigger}")

    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=sqlite_path))))
    served = await served_counts(client)
    assert served == recount(sqlite_path)
    assert served["run-a"]["jobs_total"] == 3 and served["run-a"]["jobs_failed"] == 2


async def test_a_deleted_run_leaves_no_counts_behind(sqlite_client, sqlite_path):
    for number in range(3):
        await sqlite_client.post("/api/jobs/", json=job_body(f"job-{number}", "run-a"))
    assert (await sqlite_client.delete("/api/runs/run-a")).status == 200
    with sqlite3.connect(sqlite_path) as db:
        assert db.execute("SELECT COUNT(*) FROM armada_job_counts").fetchone() == (0,)
