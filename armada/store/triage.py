"""The reads behind failure triage (armada/http/triage.py): runs with their newest failure, a
run's jobs with their reports, the Failed and Lost jobs of every run, and a search that names
each event's job. Each is one read transaction of named queries, like store/operations.py."""

from __future__ import annotations

from datetime import datetime

from armada import const
from armada.changes import Record
from armada.store import operations
from armada.store.operations import EventPosition, JobPosition
from armada.store.transaction import Transaction

FAILED_STATUSES = ("Failed", "Lost")


def first_line(text: str | None) -> str | None:
    """The first line of an event's content that holds more than spaces ("" when none does)."""
    if text is None:
        return None
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _with_reports(job: Record) -> Record:
    """A job read with its newest event: its report times, last message and failure line."""
    last_event = job.pop("last_event_datetime")
    failed_message = job.pop("failed_message")
    job["first_report_datetime"] = job["job_datetime"]
    # A legacy job may have no datetime (nor its events): the newest that exists, if any.
    job["last_report_datetime"] = max(
        (when for when in (job["job_datetime"], last_event) if when is not None), default=None)
    job["last_message"] = first_line(job["last_message"])
    job["failure"] = (first_line(failed_message or job["last_message"])
                      if job["job_status"] in FAILED_STATUSES else None)
    return job


def _with_failure(tx: Transaction, run: Record) -> Record:
    """The run with its newest Failed or Lost job and that job's failure line (or nulls)."""
    failed = None
    if run["jobs_failed"] + run["jobs_lost"]:
        failed = tx.one("newest_failure_of_run", run_uuid=run["run_uuid"],
                        text_chars=const.TRIAGE_TEXT_CHARS)
    run["failure_job_uuid"] = failed and failed["job_uuid"]
    run["failure_agent"] = failed and failed["job_associated_agent"]
    run["failure"] = failed and first_line(failed["failed_message"] or failed["last_message"])
    return run


def list_runs(tx: Transaction, page: int, page_size: int, since: datetime | None = None,
              until: datetime | None = None, run_status: str | None = None
              ) -> tuple[list[Record], int]:
    """operations.list_runs, each run with its newest failure: one seek per failed run."""
    runs, total = operations.list_runs(tx, page, page_size, since, until, run_status)
    return [_with_failure(tx, run) for run in runs], total


def get_run_with_jobs(tx: Transaction, run_uuid: str, page: int, page_size: int
                      ) -> tuple[Record, list[Record], int]:
    """The run (with its newest failure), a page of its jobs with their reports, and how many
    jobs it has: what the live page shows of a run, from one transaction."""
    run = _with_failure(tx, operations.get_run(tx, run_uuid))
    jobs = []
    if page_size:
        jobs = tx.all("list_jobs_of_run_with_reports", run_uuid=run_uuid, limit=page_size,
                      offset=(page - 1) * page_size, text_chars=const.TRIAGE_TEXT_CHARS)
    return run, [_with_reports(job) for job in jobs], run["jobs_total"]


def list_failures_page(tx: Transaction, limit: int, before: JobPosition | None = None,
                       since: datetime | None = None, until: datetime | None = None
                       ) -> tuple[list[Record], JobPosition | None]:
    """Up to `limit` Failed or Lost jobs of every run, newest first (by `job_datetime`) and
    older than `before`, with their reports; and where the next page starts."""
    between = operations._between(since, until)
    position = (between["until"], "")
    if before is not None:
        position = min(position, before)
    rows = tx.all("list_failed_jobs_page", since=between["since"], before_datetime=position[0],
                  before_uuid=position[1], limit=limit + 1, text_chars=const.TRIAGE_TEXT_CHARS)
    jobs, following = operations._page(
        rows, limit, lambda last: (last["job_datetime"], last["job_uuid"]))
    return [_with_reports(job) for job in jobs], following


def search_events_page(tx: Transaction, terms: list[str], run_uuid: str | None,
                       job_uuid: str | None, limit: int, before: EventPosition | None = None
                       ) -> tuple[list[Record], EventPosition | None]:
    """operations.search_events_page, also of one run's events, each event with its job's run,
    agent and status (one lookup per job of the page)."""
    if run_uuid is not None and job_uuid is None:
        keyset = operations._event_keyset(limit, before, None, None, None)
        rows = tx.all("search_events_of_run_like_page", run_uuid=run_uuid, **keyset,
                      **operations._likes(terms))
        events, following = operations._event_page(rows, limit)
    else:
        events, following = operations.search_events_page(tx, terms, job_uuid, limit, before)
    jobs: dict[str, Record | None] = {}
    for event in events:
        if event["job_uuid"] not in jobs:
            jobs[event["job_uuid"]] = tx.one("get_job", job_uuid=event["job_uuid"])
        job = jobs[event["job_uuid"]] or {}
        event["run_uuid"] = job.get("run_uuid")
        event["job_associated_agent"] = job.get("job_associated_agent")
        event["job_status"] = job.get("job_status")
    if run_uuid is not None:
        events = [event for event in events if event["run_uuid"] == run_uuid]
    return events, following
