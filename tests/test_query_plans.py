"""The list and count queries use the indexes, on SQLite (EXPLAIN QUERY PLAN on fresh tables,
made by the first two migrations).

The filtered queries take both ends of the datetime range as parameters (never `IS NULL`
alternatives), so that the datetime index can seek; the unfiltered ones stay as they were.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from test_legacy_tables import LEGACY_TABLES

from armada.store.migrations import load_migrations
from armada.store.queries import load_queries

SQLITE = load_queries("sqlite")
TABLES, INDEXES = load_migrations("sqlite")[:2]
# The reads behind the REST API's lists and single records.
READS = [
    "count_jobs", "count_jobs_filtered", "count_jobs_of_run", "count_jobs_of_run_filtered",
    "count_runs", "count_runs_between", "get_event", "get_job", "get_run", "get_run_with_summary",
    "list_events_of_job_page", "list_events_page", "list_jobs", "list_jobs_filtered",
    "list_jobs_of_run", "list_jobs_of_run_filtered", "list_jobs_of_run_page", "list_runs",
    "list_runs_between", "list_undated_jobs_of_run_page",
    # The triage reads (armada/store/triage.py).
    "list_jobs_of_run_with_reports", "newest_failure_of_run", "list_failed_jobs_page",
]
PARAMETERS = {
    "limit": 10, "offset": 0, "run_uuid": "run-1", "job_uuid": "job-1", "event_uuid": "event-1",
    "since": "2026-01-01 00:00:00.000000", "until": "2026-02-01 00:00:00.000000",
    "job_status": "Failed", "job_associated_agent": "agent-1", "event_status": "Failed",
    "run_status": "Failed",
    "before_datetime": "2026-01-15 00:00:00.000000", "before_uuid": "event-9",
    "after_uuid": "job-0", "text_chars": 300,
}
# Sorting what is left is fine when it is one page of runs (at most 100 rows).
SORTS_ONE_PAGE = {"list_runs", "list_runs_between", "list_jobs_of_run_with_reports",
                  "list_failed_jobs_page"}


@pytest.fixture(scope="module")
def connection() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    for statement in (*TABLES.statements, *INDEXES.statements):
        connection.execute(statement)
    yield connection
    connection.close()


def plan(connection: sqlite3.Connection, name: str) -> list[str]:
    (statement,) = SQLITE[name].statements
    parameters = {key: PARAMETERS[key] for key in SQLITE[name].parameters}
    return [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + statement, parameters)]


@pytest.mark.parametrize("name", READS)
def test_every_read_reaches_its_table_through_an_index(connection, name):
    steps = [step for step in plan(connection, name) if " armada_" in step]
    assert steps, name
    for step in steps:
        assert " USING " in step and ("INDEX" in step or "PRIMARY KEY" in step), (name, step)
    if name not in SORTS_ONE_PAGE:
        assert not any("TEMP B-TREE" in step for step in plan(connection, name)), name


@pytest.mark.parametrize("name, index, constraint", [
    ("list_runs_between", "ix_armada_runs_datetime", "run_datetime>? AND run_datetime<?"),
    ("count_runs_between", "ix_armada_runs_datetime", "run_datetime>? AND run_datetime<?"),
    ("list_jobs_filtered", "ix_armada_jobs_datetime", "job_datetime>? AND job_datetime<?"),
    ("count_jobs_filtered", "ix_armada_jobs_datetime", "job_datetime>? AND job_datetime<?"),
    ("list_jobs_of_run_filtered", "ix_armada_jobs_run",
     "run_uuid=? AND job_datetime>? AND job_datetime<?"),
    ("count_jobs_of_run_filtered", "ix_armada_jobs_run",
     "run_uuid=? AND job_datetime>? AND job_datetime<?"),
    ("list_events_of_job_page", "ix_armada_events_job",
     "job_uuid=? AND event_datetime>? AND event_datetime<?"),
    ("list_events_page", "ix_armada_events_datetime", "event_datetime>? AND event_datetime<?"),
    ("list_jobs_of_run_page", "ix_armada_jobs_run", "run_uuid=? AND job_datetime<?"),
    ("list_failed_jobs_page", "ix_armada_jobs_status_datetime",
     "job_status=? AND job_datetime>? AND job_datetime<?"),
])
def test_filtered_reads_seek_the_datetime_range(connection, name, index, constraint):
    assert any("SEARCH armada_" in step and f"INDEX {index} ({constraint})" in step
               for step in plan(connection, name)), plan(connection, name)


def test_the_undated_jobs_of_a_run_are_read_in_the_order_of_the_run_index(connection):
    # Fresh tables: job_datetime is NOT NULL, so the seek stops at the run (and finds none).
    assert plan(connection, "list_undated_jobs_of_run_page") == [
        "SEARCH armada_jobs USING INDEX ix_armada_jobs_run (run_uuid=?)"]
    legacy = sqlite3.connect(":memory:")
    try:
        for statement in (*LEGACY_TABLES, *INDEXES.statements):
            legacy.execute(statement)
        assert plan(legacy, "list_undated_jobs_of_run_page") == [
            "SEARCH armada_jobs USING INDEX ix_armada_jobs_run "
            "(run_uuid=? AND job_datetime=? AND job_uuid>?)"]
    finally:
        legacy.close()


COUNT_OF_RUN = "SEARCH job USING COVERING INDEX ix_armada_jobs_run_status (run_uuid=?)"
COUNT_OF_STATUS = ("SEARCH job USING COVERING INDEX ix_armada_jobs_run_status "
                   "(run_uuid=? AND job_status=?)")
NEWEST_JOB = "SEARCH job USING COVERING INDEX ix_armada_jobs_run (run_uuid=?)"
NEWEST_EVENT = "SEARCH event USING COVERING INDEX ix_armada_events_job (job_uuid=?)"


@pytest.mark.parametrize("name", ["list_runs", "list_runs_between", "get_run_with_summary",
                                  "list_runs_of_status", "count_runs_of_status"])
def test_run_summaries_count_each_runs_jobs_from_the_status_index_alone(connection, name):
    steps = plan(connection, name)
    reads_of_jobs = [step for step in steps if " job " in f"{step} " or "armada_jobs" in step]
    # Six statuses (Lost too), then the newest job and each job's newest event (report times).
    assert reads_of_jobs == [COUNT_OF_RUN] + [COUNT_OF_STATUS] * 6 + [NEWEST_JOB] * 2, steps
    assert NEWEST_EVENT in steps, steps
    # Once per run: the counts are read once, not again for run_status.
    assert steps[0] == "MATERIALIZE counted", steps
