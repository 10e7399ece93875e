"""What each API operation does inside its one transaction, in named queries.

Shared by both dialects: every function takes a Transaction and plain values. A write
answers what it changed (armada/changes.py), with the run and job each change
belongs to, read in the same transaction.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from armada import const
from armada.changes import Announced, Change, Record, RunDeleted, Written
from armada.errors import ApiError, Conflict, NotFound
from armada.store.transaction import Transaction

DATETIME_ROUNDING = timedelta(milliseconds=3)
# What a create stores for an optional field its client did not send.
JOB_DEFAULTS = {"job_associated_agent": "Unknown", "job_status": "Running"}
EVENT_DEFAULTS = {"event_status": "Running"}
# Statuses move on later (PATCH, a sweep): a repeated create never compares them.
CHANGED_LATER = frozenset({"job_status", "event_status"})
# The open ends of a since/until range: binding both keeps every datetime range seekable.
EARLIEST = datetime(const.EARLIEST_YEAR, 1, 1)
LATEST = datetime.max
# Where a page of events ends, newest first: the next page holds only older positions.
EventPosition = tuple[datetime, str]
# Where a page of a run's jobs ends, newest first, likewise.
JobPosition = tuple[datetime, str]
# Where a page ends, whatever it pages (a keyset position, or the last uuid).
Position = TypeVar("Position")
TABLES = ("armada_runs", "armada_jobs", "armada_events")
EVENTS = "armada_events"
KEY_OF_TABLE = {"armada_runs": "run_uuid", "armada_jobs": "job_uuid", "armada_events": "event_uuid"}
LEGACY_INDEX_OF_TABLE = {
    "armada_runs": "index_run_uuid",
    "armada_jobs": "index_job_uuid",
    "armada_events": "index_event_uuid",
}


def schema_state(tx: Transaction) -> tuple[int, list[Record]]:
    """The schema's version, and the columns of Armada's tables (none where they are missing)."""
    rows = tx.all("schema_state")
    return int(rows[0]["version"]), [row for row in rows if row["table_name"] is not None]


def column_limits(columns: list[Record]) -> dict[str, dict[str, int]]:
    """Each of Armada's tables: its columns' length limits in characters (none: no limit)."""
    limits: dict[str, dict[str, int]] = {table: {} for table in TABLES}
    for column in columns:
        if (column["max_length"] or 0) > 0:
            limits[column["table_name"]][column["column_name"]] = int(column["max_length"])
    return limits


def keyless_tables(columns: list[Record]) -> frozenset[str]:
    """Armada's tables with no key on their uuid (its own tables, made before this service),
    from schema_state's columns."""
    keyed = {(column["table_name"], column["column_name"])
             for column in columns if column["is_key"]}
    return frozenset(table for table, key in KEY_OF_TABLE.items() if (table, key) not in keyed)


def index_keyless_tables(tx: Transaction) -> None:
    """An index on the uuid of each table that has no key on it: the service looks rows up
    by it."""
    keyless = keyless_tables(schema_state(tx)[1])
    for table in KEY_OF_TABLE:
        if table in keyless:
            tx.execute(LEGACY_INDEX_OF_TABLE[table])


def create_run(tx: Transaction, run: Record) -> Written:
    """Insert the run unless its uuid exists; a repeat answers the stored run, unchanged."""
    tx.check_lengths("armada_runs", run)
    if tx.execute("insert_run_if_absent", **run):
        return Written(run, True, (Change("new_run", run, run["run_uuid"]),))
    stored = tx.one("get_run", run_uuid=run["run_uuid"])
    if stored is None:
        raise RuntimeError("run neither inserted nor found")
    return Written(stored, False, ())


def get_run(tx: Transaction, run_uuid: str) -> Record:
    """The run with the counts of its jobs."""
    run = tx.one("get_run_with_summary", run_uuid=run_uuid)
    if run is None:
        raise NotFound(f"run {run_uuid} not found")
    return run


def list_runs(tx: Transaction, page: int, page_size: int, since: datetime | None = None,
              until: datetime | None = None, run_status: str | None = None
              ) -> tuple[list[Record], int]:
    """A page of runs, each with the counts of its jobs, and how many runs there are."""
    paging = {"limit": page_size, "offset": (page - 1) * page_size}
    if run_status is not None:
        of_status = {"run_status": run_status, **_between(since, until)}
        return (tx.all("list_runs_of_status", **of_status, **paging),
                tx.scalar("count_runs_of_status", **of_status))
    if since is None and until is None:
        return tx.all("list_runs", **paging), tx.scalar("count_runs")
    between = _between(since, until)
    return (tx.all("list_runs_between", **between, **paging),
            tx.scalar("count_runs_between", **between))


def delete_run(tx: Transaction, run_uuid: str) -> RunDeleted:
    """Events, then jobs, then the run; an unknown run rolls everything back."""
    purged = purge_run(tx, run_uuid)
    if purged is None:
        raise NotFound(f"run {run_uuid} not found")
    return purged


def create_job(tx: Transaction, sent: Record) -> Written:
    """Insert the job, and its run first when that is not registered yet (the run's
    change comes first: the job's refers to it); a repeat answers the stored job, unchanged,
    when what was sent agrees with it."""
    job = {**JOB_DEFAULTS, **sent}
    tx.check_lengths("armada_jobs", job)
    run_uuid = job["run_uuid"]
    run = {"run_uuid": run_uuid, "run_datetime": job["job_datetime"]}
    new_run: tuple[Change, ...] = ()
    if tx.execute("insert_run_if_absent", **run):
        new_run = (Change("new_run", run, run_uuid),)
    if tx.execute("insert_job_if_absent", **job):
        return Written(job, True, (*new_run, Change("new_job", job, run_uuid, job["job_uuid"])))
    stored = tx.one("get_job", job_uuid=job["job_uuid"])
    _same_or_conflict("job", sent, stored)
    assert stored is not None  # _same_or_conflict raised otherwise
    return Written(stored, False, new_run)


def get_job(tx: Transaction, job_uuid: str) -> Record:
    job = tx.one("get_job", job_uuid=job_uuid)
    if job is None:
        raise NotFound(f"job {job_uuid} not found")
    return job


def list_jobs(tx: Transaction, run_uuid: str | None, page: int, page_size: int,
              status: str | None = None, agent: str | None = None,
              since: datetime | None = None, until: datetime | None = None
              ) -> tuple[list[Record], int]:
    paging = {"limit": page_size, "offset": (page - 1) * page_size}
    if (status, agent, since, until) != (None, None, None, None):
        filters = {"job_status": status, "job_associated_agent": agent,
                   **_between(since, until)}
        if run_uuid is None:
            return (tx.all("list_jobs_filtered", **filters, **paging),
                    tx.scalar("count_jobs_filtered", **filters))
        return (tx.all("list_jobs_of_run_filtered", run_uuid=run_uuid, **filters, **paging),
                tx.scalar("count_jobs_of_run_filtered", run_uuid=run_uuid, **filters))
    if run_uuid is None:
        return tx.all("list_jobs", **paging), tx.scalar("count_jobs")
    return (
        tx.all("list_jobs_of_run", run_uuid=run_uuid, **paging),
        tx.scalar("count_jobs_of_run", run_uuid=run_uuid),
    )


def list_jobs_of_run_page(tx: Transaction, run_uuid: str, limit: int,
                          before: JobPosition | None = None
                          ) -> tuple[list[Record], JobPosition | None]:
    """Up to `limit` jobs of the run older than `before`, newest first, and where the next
    page starts (None after the last). No count: the export reads to the end."""
    position = (LATEST, "") if before is None else before
    rows = tx.all("list_jobs_of_run_page", run_uuid=run_uuid, before_datetime=position[0],
                  before_uuid=position[1], limit=limit + 1)
    return _page(rows, limit, lambda last: (last["job_datetime"], last["job_uuid"]))


def list_undated_jobs_of_run_page(tx: Transaction, run_uuid: str, limit: int,
                                  after_uuid: str = "") -> tuple[list[Record], str | None]:
    """Up to `limit` jobs of the run without a datetime (legacy rows) after `after_uuid`, in
    uuid order, and the uuid the next page starts after (None after the last)."""
    rows = tx.all("list_undated_jobs_of_run_page", run_uuid=run_uuid, after_uuid=after_uuid,
                  limit=limit + 1)
    return _page(rows, limit, lambda last: last["job_uuid"])


def update_job_status(tx: Transaction, job_uuid: str, job_status: str) -> Written:
    tx.check_lengths("armada_jobs", {"job_status": job_status})
    # Read before the update: nothing may fail after the one statement that changes.
    owner = tx.first("run_of_job", job_uuid=job_uuid)
    ended = None if owner is None else _run_ended(tx, owner[0], job_uuid, owner[1], job_status)
    if owner is None or not tx.execute("update_job_status", job_uuid=job_uuid,
                                       job_status=job_status):
        raise NotFound(f"job {job_uuid} not found")
    change = {"job_uuid": job_uuid, "job_status": job_status}
    return Written(change, False, (Change("update_job_status", change, owner[0], job_uuid,
                                          owner[1], ended),))


def _run_ended(tx: Transaction, run_uuid: str | None, job_uuid: str, before: str | None,
               after: str) -> str | None:
    """The run's status when this job leaving Running or Pending leaves it none that is
    (the write that ends the run, counted by /metrics); else None. Read before the update,
    and only then: once per job that ends, none per event (other_jobs_status.sql)."""
    if before not in LIVE or after in LIVE or run_uuid is None:
        return None
    others = tx.scalar("other_jobs_status", run_uuid=run_uuid, job_uuid=job_uuid)
    if others == RUNNING:
        return None
    if others == FAILED or after in (FAILED, LOST):
        return FAILED
    if others == CANCELLED or after == CANCELLED:
        return CANCELLED
    return SUCCESS


def create_event(tx: Transaction, sent: Record,
                 owners: dict[str, tuple[Any, ...]] | None = None) -> Written:
    """Insert the event of an existing job; a repeat answers the stored event, unchanged,
    when what was sent agrees with it. A new event of a Lost job makes it Running again: its
    agent was only slow. `owners`: the run and status of jobs read earlier in this
    transaction (a batch reads each job's once)."""
    event = {**EVENT_DEFAULTS, **sent}
    tx.check_lengths("armada_events", event)
    job_uuid = event["job_uuid"]
    # Read before the insert: nothing may fail after the one statement that changes. The
    # insert checks the job again: on SQL Server it may have gone since, under its lock.
    owner = None if owners is None else owners.get(job_uuid)
    if owner is None:
        owner = tx.first("run_of_job", job_uuid=job_uuid)
    revived = owner is not None and owner[1] == LOST and bool(
        tx.execute("revive_lost_job", job_uuid=job_uuid, event_uuid=event["event_uuid"]))
    if owners is not None and owner is not None:
        owners[job_uuid] = (owner[0], RUNNING) if revived else owner
    insert = "insert_event_if_absent_keyless" if EVENTS in tx.keyless else \
        "insert_event_if_absent"
    if owner is not None and tx.execute(insert, **event):
        new_event = Change("new_event", event, owner[0], job_uuid)
        if not revived:
            return Written(event, True, (new_event,))
        running = {"job_uuid": job_uuid, "job_status": "Running"}
        return Written(event, True, (new_event, Change("update_job_status", running, owner[0],
                                                       job_uuid)))
    stored = tx.one("get_event", event_uuid=event["event_uuid"])
    if stored is None:
        raise NotFound(f"job {job_uuid} not found")
    _same_or_conflict("event", sent, stored)
    return Written(stored, False, ())


def create_events(tx: Transaction, events: list[Record]) -> list[Written]:
    """Create a batch of events, each with the single-event rules; one failure fails all."""
    results = []
    owners: dict[str, tuple[Any, ...]] = {}
    for index, event in enumerate(events):
        try:
            results.append(create_event(tx, event, owners))
        except ApiError as error:
            error.detail = f"events[{index}]: {error.detail}"
            if error.fields is not None:
                error.fields = {f"events.{index}.{name}": messages
                                for name, messages in error.fields.items()}
            raise
    return results


def get_event(tx: Transaction, event_uuid: str) -> Record:
    event = tx.one("get_event", event_uuid=event_uuid)
    if event is None:
        raise NotFound(f"event {event_uuid} not found")
    return event


def list_events_page(tx: Transaction, job_uuid: str | None, limit: int,
                     before: EventPosition | None = None, status: str | None = None,
                     since: datetime | None = None, until: datetime | None = None
                     ) -> tuple[list[Record], EventPosition | None]:
    """Up to `limit` events (of the job, or of every job when `job_uuid` is None) older than
    `before`, newest first, and where the next page starts (None after the last).

    `until` is folded into the position: `(until, "")` precedes every event at `until`.
    """
    keyset = _event_keyset(limit, before, status, since, until)
    if job_uuid is None:
        rows = tx.all("list_events_page", **keyset)
    else:
        rows = tx.all("list_events_of_job_page", job_uuid=job_uuid, **keyset)
    return _event_page(rows, limit)


def _event_keyset(limit: int, before: EventPosition | None, status: str | None,
                  since: datetime | None, until: datetime | None) -> dict[str, Any]:
    """The parameters of an events page query: one row more than `limit`, to tell whether
    a next page exists."""
    between = _between(since, until)
    position = (between["until"], "")
    if before is not None:
        position = min(position, before)
    return {"event_status": status, "since": between["since"], "before_datetime": position[0],
            "before_uuid": position[1], "limit": limit + 1}


def _event_page(rows: list[Record], limit: int) -> tuple[list[Record], EventPosition | None]:
    """The page of `rows` (read with _event_keyset) and where the next one starts."""
    return _page(rows, limit, lambda last: (last["event_datetime"], last["event_uuid"]))


def _page(rows: list[Record], limit: int, position_of: Callable[[Record], Position]
          ) -> tuple[list[Record], Position | None]:
    """The first `limit` of `rows`, read one row more than `limit` to tell whether a next page
    exists, and where it starts: `position_of` its last row; None after the last page."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], position_of(rows[limit - 1])


def list_undated_events_page(tx: Transaction, job_uuid: str | None, limit: int,
                             after_uuid: str = "", status: str | None = None
                             ) -> tuple[list[Record], str | None]:
    """Up to `limit` events without a datetime (legacy rows) after `after_uuid`, in uuid
    order, and the uuid the next page starts after (None after the last)."""
    rows = tx.all("list_undated_events_page", job_uuid=job_uuid, after_uuid=after_uuid,
                  event_status=status, limit=limit + 1)
    return _page(rows, limit, lambda last: last["event_uuid"])


def update_event_status(tx: Transaction, event_uuid: str, event_status: str) -> Written:
    tx.check_lengths("armada_events", {"event_status": event_status})
    # Read before the update: nothing may fail after the one statement that changes.
    owners = tx.one("job_and_run_of_event", event_uuid=event_uuid)
    if owners is None or not tx.execute("update_event_status", event_uuid=event_uuid,
                                        event_status=event_status):
        raise NotFound(f"event {event_uuid} not found")
    change = {"event_uuid": event_uuid, "event_status": event_status}
    return Written(change, False, (Change("update_event_status", change, owners["run_uuid"],
                                          owners["job_uuid"]),))


def _between(since: datetime | None, until: datetime | None) -> dict[str, datetime]:
    return {"since": EARLIEST if since is None else since,
            "until": LATEST if until is None else until}


def _same(stored: Any, sent: Any) -> bool:
    # Legacy SQL Server DATETIME columns round to 1/300 s: a repeat must still be a repeat.
    if isinstance(stored, datetime) and isinstance(sent, datetime):
        return abs(stored - sent) <= DATETIME_ROUNDING
    return bool(stored == sent)


def _same_or_conflict(kind: str, sent: Record, stored: Record | None) -> None:
    """A repeated create is fine when what it sent agrees with the stored record, statuses
    aside; anything else is a conflict."""
    if stored is None:
        raise RuntimeError(f"{kind} neither inserted nor found")
    differing = sorted(key for key, value in sent.items()
                       if key not in CHANGED_LATER and not _same(stored.get(key), value))
    if differing:
        raise Conflict(
            f"{kind} {sent[f'{kind}_uuid']} already exists with other values "
            f"({', '.join(differing)})",
            extra={"stored": stored, "sent": sent},
        )


# Writes that change the database in one statement at most, their last, and raise an ApiError
# only when it changed nothing: where a failed statement undoes itself, they need no savepoint
# (tests/test_group_commit.py checks each against a statement trace). create_event of a Lost
# job changes it first, only when the event is new: the insert that follows then changes too.
ONE_STATEMENT_WRITES = frozenset({create_run, create_event, update_job_status,
                                  update_event_status})

# Writes of many statements that are seldom refused (a batch of events): where a failed
# statement undoes itself they run without a savepoint too, whose journal of the pages they
# change costs more than they do (on SQLite it spills to a temporary file past 64 KiB). One
# that fails takes its group commit back with it, and the other writes run again.
UNGUARDED_WRITES = frozenset({create_events})


def list_runs_older_than(tx: Transaction, cutoff: datetime, limit: int, offset: int
                         ) -> list[Record]:
    return tx.all("list_runs_older_than", cutoff=cutoff, limit=limit, offset=offset)


def purge_run(tx: Transaction, run_uuid: str, old_before: datetime | None = None,
              announce_later: bool = False) -> RunDeleted | None:
    """Events, then jobs, then the run, and how many of each went; None when it is gone, or
    with `old_before` (retention) when it is no longer old (list_runs_older_than).
    `announce_later` (a process without subscribers: `armada purge`) leaves the deletion
    for the service to announce (take_run_deletions)."""
    if old_before is not None and tx.one("run_is_old", run_uuid=run_uuid,
                                         cutoff=old_before) is None:
        return None
    events = tx.execute("delete_run_events", run_uuid=run_uuid)
    jobs = tx.execute("delete_run_jobs", run_uuid=run_uuid)
    if not tx.execute("delete_run", run_uuid=run_uuid):
        return None
    if announce_later:
        tx.execute("note_run_deletion", run_uuid=run_uuid)
    change = Change("delete_run", {"run_uuid": run_uuid}, run_uuid)
    return RunDeleted(run_uuid, jobs, events, (change,))


def count_run_deletions(tx: Transaction) -> int:
    return int(tx.scalar("count_run_deletions"))


def take_run_deletions(tx: Transaction, limit: int) -> Announced:
    """Up to `limit` runs deleted by another process, removed from those waiting: their
    delete_run changes."""
    rows = tx.all("list_run_deletions", limit=limit)
    if rows:
        tx.execute("forget_run_deletions", last=rows[-1]["id"])
    return Announced(tuple(Change("delete_run", {"run_uuid": row["run_uuid"]}, row["run_uuid"])
                           for row in rows))


def count_run_contents(tx: Transaction, run_uuid: str) -> tuple[int, int]:
    """What purge_run would remove: the counts of (jobs, events)."""
    counts = tx.one("count_run_contents", run_uuid=run_uuid)
    assert counts is not None  # a SELECT without FROM answers one row
    return int(counts["jobs"]), int(counts["events"])


# Search (GET /api/events/?q=, and q= of the runs and jobs lists)

# The trigram index finds pieces of 3 characters or more; a shorter term is matched by LIKE.
SEARCH_INDEXED_TERM = 3
MAX_SEARCH_TERMS = const.MAX_SEARCH_TERMS  # the LIKE patterns :like1-4 of the search queries
# How many of the newest events a search reads first, before it asks the index.
SEARCH_SCAN_FIRST = 2000
LIKE_SPECIAL = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


def like_pattern(text: str) -> str:
    """A LIKE pattern (ESCAPE '\\') of the values that contain `text`."""
    return f"%{text.translate(LIKE_SPECIAL)}%"


def search_events_page(tx: Transaction, terms: list[str], job_uuid: str | None, limit: int,
                       before: EventPosition | None = None, status: str | None = None,
                       since: datetime | None = None, until: datetime | None = None
                       ) -> tuple[list[Record], EventPosition | None]:
    """list_events_page of the events whose content contains every term: through the search
    index when it is complete and a term has 3 characters or more, else by LIKE."""
    if not 1 <= len(terms) <= MAX_SEARCH_TERMS:
        raise ValueError(f"a search takes 1 to {MAX_SEARCH_TERMS} terms")
    keyset = _event_keyset(limit, before, status, since, until)
    indexed = [term for term in terms if len(term) >= SEARCH_INDEXED_TERM]
    state = tx.one("search_index_state")
    if indexed and state is not None and state["indexed"] and not state["pending_rows"]:
        # A word in most events: the newest rows hold a page of it, sooner than the index.
        recent = "search_events_recent_page" if job_uuid is None else \
            "search_events_of_job_recent_page"
        rows = tx.all(recent, job_uuid=job_uuid, scan_rows=SEARCH_SCAN_FIRST, **keyset,
                      **_likes(terms))
        if len(rows) <= limit:
            # Each term a quoted FTS5 string: its characters are text, never query syntax.
            # The index finds candidates (it folds the case of every letter); LIKE decides,
            # so that a match is the same whichever way the page was found.
            match = " AND ".join('"' + term.replace('"', '""') + '"' for term in indexed)
            rows = tx.all("search_events_page", match=match, job_uuid=job_uuid, **keyset,
                          **_likes(terms))
    elif job_uuid is None:
        rows = tx.all("search_events_like_page", **keyset, **_likes(terms))
    else:
        rows = tx.all("search_events_of_job_like_page", job_uuid=job_uuid, **keyset,
                      **_likes(terms))
    return _event_page(rows, limit)


def _likes(terms: list[str]) -> dict[str, str | None]:
    patterns: list[str | None] = [like_pattern(term) for term in terms]
    patterns += [None] * (MAX_SEARCH_TERMS - len(patterns))
    return {f"like{number}": pattern for number, pattern in enumerate(patterns, 1)}


def search_index_state(tx: Transaction) -> Record:
    """`indexed` (the database has a search index), `pending_rows` (rows that predate it and
    that it still lacks) and `queued` (whether new rows wait for index_queued_events)."""
    state = tx.one("search_index_state")
    assert state is not None  # an aggregate, or a SELECT without FROM: one row
    return state


def build_search_index_chunk(tx: Transaction, chunk_rows: int, chunk_characters: int) -> float:
    """Index the next rows that existed before the search index did: at most `chunk_rows`,
    and no more text than `chunk_characters` (one row, whatever its size); the seconds
    it took."""
    started = time.perf_counter()
    last = _last_within(tx, "pending_event_sizes", chunk_rows, chunk_characters)
    tx.execute("build_search_index_chunk", last_rowid=last)
    return time.perf_counter() - started


def index_queued_events(tx: Transaction, chunk_rows: int, chunk_characters: int) -> float:
    """Index the oldest new events waiting in the search index's queue: at most `chunk_rows`,
    and no more text than `chunk_characters` (one event, whatever its size); the seconds
    it took."""
    started = time.perf_counter()
    last = _last_within(tx, "queued_event_sizes", chunk_rows, chunk_characters)
    if last is not None:
        tx.execute("index_queued_events", last_rowid=last)
    return time.perf_counter() - started


def _last_within(tx: Transaction, query: str, chunk_rows: int, chunk_characters: int
                 ) -> int | None:
    """The rowid that ends the first rows of `query` (rowid, characters) whose text fits in
    `chunk_characters`, the first row always; None when there are none."""
    last, total = None, 0
    with contextlib.closing(tx.each(query, chunk_rows=chunk_rows)) as rows:
        for rowid, characters in rows:
            if last is not None and total + characters > chunk_characters:
                break
            last, total = rowid, total + characters
    return last


def search_runs(tx: Transaction, text: str, page: int, page_size: int,
                since: datetime | None = None, until: datetime | None = None
                ) -> tuple[list[Record], int]:
    """list_runs of the runs whose uuid contains `text`."""
    filters = {"run_like": like_pattern(text), **_between(since, until)}
    return (tx.all("list_runs_matching", **filters, limit=page_size,
                   offset=(page - 1) * page_size),
            tx.scalar("count_runs_matching", **filters))


def search_jobs(tx: Transaction, text: str, run_uuid: str | None, page: int, page_size: int,
                status: str | None = None, agent: str | None = None,
                since: datetime | None = None, until: datetime | None = None
                ) -> tuple[list[Record], int]:
    """list_jobs of the jobs whose uuid or agent contains `text`."""
    filters = {"job_like": like_pattern(text), "run_uuid": run_uuid, "job_status": status,
               "job_associated_agent": agent, **_between(since, until)}
    return (tx.all("list_jobs_matching", **filters, limit=page_size,
                   offset=(page - 1) * page_size),
            tx.scalar("count_jobs_matching", **filters))


# Lost jobs (armada/lost_jobs.py): the sweep and its lease

LOST = "Lost"
RUNNING, FAILED, CANCELLED, SUCCESS = "Running", "Failed", "Cancelled", "Success"
# A job still at work: its run is Running while one is.
LIVE = (RUNNING, "Pending")


def take_lease(tx: Transaction, name: str, holder: str, seconds: float) -> bool:
    """Whether `holder` holds the lease `name` for the next `seconds` (taken or kept). A write
    like the others, that changes nothing the stream shows."""
    return bool(tx.execute("take_lease", lease=name, holder=holder, seconds=seconds))


def stale_jobs(tx: Transaction, stale_seconds: float, limit: int) -> list[str]:
    """Up to `limit` Running jobs silent for `stale_seconds`, longest silent first."""
    return [row["job_uuid"] for row in tx.all("stale_jobs", stale_seconds=stale_seconds,
                                              limit=limit)]


def mark_job_lost(tx: Transaction, job_uuid: str, stale_seconds: float, event: Record
                  ) -> Written | None:
    """Mark the job Lost, with `event` (its content completed with how long the job was
    silent, dated at its agent's last report, so that the job's and its run's last report stay
    the agent's), when it is still silent: None when it reported meanwhile, ended, or another
    replica marked it first. The event goes in while the job is live: an event of a Lost job
    would bring it back. `event`'s own datetime is for a legacy job with no datetime at all."""
    job = tx.one("stale_job", job_uuid=job_uuid, stale_seconds=stale_seconds)
    if job is None:
        return None
    reports = [when for when in (job["job_datetime"], job["last_event_datetime"])
               if isinstance(when, datetime)]
    ended = _run_ended(tx, job["run_uuid"], job_uuid, job["job_status"], LOST)
    event = {**event, "job_uuid": job_uuid,
             "event_datetime": max(reports, default=event["event_datetime"]),
             "event_content": f"{event['event_content']} {_silence(job['silent_seconds'])}"}
    tx.check_lengths("armada_events", event)
    tx.execute("insert_event_if_absent", **event)
    tx.execute("update_job_status", job_uuid=job_uuid, job_status=LOST)
    lost = {"job_uuid": job_uuid, "job_status": LOST}
    return Written(lost, False, (Change("update_job_status", lost, job["run_uuid"], job_uuid,
                                        job["job_status"], ended),
                                 Change("new_event", event, job["run_uuid"], job_uuid)))


def _silence(seconds: float) -> str:
    whole = int(seconds)
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


# Instances on one database (armada/instances.py): a row each in armada_leases


def announce_instance(tx: Transaction, name: str, holder: str, seconds: float) -> None:
    """Mark this instance (its row `name`) live for `seconds` more."""
    tx.execute("announce_instance", instance=name, holder=holder, seconds=seconds)


def live_instances(tx: Transaction, name: str) -> list[Record]:
    """The other live instances' rows (name, holder)."""
    return tx.all("live_instances", instance=name)


def forget_instance(tx: Transaction, name: str) -> None:
    tx.execute("forget_instance", instance=name)
