"""The store: the only code that knows about threads, connections and dialects.

Reads run as one transaction each on an executor thread. Writes go through one writer
thread (group commit): it takes every write waiting in its queue (under load, also what
keeps arriving for up to 2 ms), runs each inside its own savepoint of one shared transaction
(a failing write is rolled back alone; see _run_write for the writes that need none),
commits once, and only then answers them all, in order. So each request still gets its
answer only after its own write is on disk, and one fsync serves a whole burst.

Background work (the search index) is written in transactions of its own, when no other
write waits (or once it has waited BACKGROUND_WRITE_MAX_WAIT_SECONDS): an agent's write
never waits for more than one such chunk. Every other write has one deadline,
ARMADA_DB_TIMEOUT from when it was handed over, whatever waits ahead of it: past it, it is
answered 503 and not run, and a BEGIN waits for the lock only until the first deadline
of its batch.

Each write answers what it changed (armada/store/changes.py). The store hands the changes
of each committed write to its one `sink`, on the event loop, in commit order, before the
write's caller resumes, and even when the caller has gone (a request cut by its timeout):
so the order of the stream is the order of the commits. Callers get the typed answer and
build no callbacks.

Every thread owns one connection; a connection that failed is closed and replaced on
that thread's next operation, never reused.

When the database does not answer, each operation fails with StoreUnavailable (a 503)
carrying the dialect's reason ("connection refused", "login failed", "database is
locked"), and the log says so once per change (Availability), not once per failure; only
a write says it is up again.

A COMMIT that fails because the connection broke leaves its outcome unknown: its writes
are answered 503 (a retry finds what was stored) and the sink's `commit_unknown` runs on
the event loop, in commit order, so that subscribers learn they may have missed changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from armada import const
from armada.config import Config
from armada.errors import ApiError, StoreUnavailable
from armada.store import migrations, operations, triage
from armada.store.changes import Announced, Change, Outbox, Purged, Sink, Written, changes_of
from armada.store.dialects import Dialect, close_quietly, make_dialect
from armada.store.migrations import SchemaTooNew
from armada.store.queries import Query, load_queries
from armada.store.transaction import Limits, Record, Transaction

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ATTEMPTS = 3
# Writes committed together (about, at most): bounds how long the first of a burst waits.
MAX_WRITES_PER_COMMIT = 256


@dataclass
class PendingWrite:
    """One write operation queued for the writer thread, and where its outcome goes."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    operation: Callable[..., Any]
    args: tuple[Any, ...]
    queued: float  # time.monotonic() when it was handed to the store
    deadline: float  # answered by then: committed, or 503 without having run
    background: bool = False
    result: Any = None
    error: BaseException | None = None


class _WriteBroke(Exception):
    """A write failed and took the shared transaction with it (its savepoint is gone)."""

    def __init__(self, write: PendingWrite, error: Exception) -> None:
        super().__init__(str(error))
        self.write = write
        self.error = error


class _NotBegun(Exception):
    """No transaction could begin (no connection, or the lock was not had in time)."""

    def __init__(self, error: Exception, busy: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.busy = busy  # another connection held the write lock until the first deadline


class _CommitUnknown(Exception):
    """The COMMIT itself broke with the connection: the batch may be committed or not."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Availability:
    """Whether the database takes writes, as the operations find it, told in the log once per
    change: down (with the cause), a new cause, up again. While it stays down, one reminder
    every `remind_every` seconds; a database that comes and goes within that time (a lock
    that only writes hit) is not announced again until it has passed.

    Any failed operation says it is down; only a committed write says it is up again (reads
    go on while another process holds the lock or the disk is full). A failure inside a
    write (its statements or its COMMIT: a full disk) is over only when a write that was
    not empty commits: an empty one proves the connection and the lock, not the space.

    Called from the store's threads; `answered` costs one attribute read while all is well.
    """

    def __init__(self, description: str, remind_every: float) -> None:
        self.description = description
        self.remind_every = remind_every
        self.reason: str | None = None  # why the database does not answer; None while it does
        self.in_write = False  # this stretch of down time saw a write fail inside itself
        self.failed_at = 0.0  # time.monotonic() of the last failure
        self._lock = threading.Lock()
        self._since = 0.0
        self._said_at = -remind_every  # when a line last said it was down
        self._said = False  # this stretch of down time was announced
        self._failures = 0  # failed operations since that line

    def failed(self, reason: str, in_write: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            self._failures += 1
            self.failed_at = now
            if self.reason is None:
                self.reason, self._since, self.in_write = reason, now, in_write
                self._said = now - self._said_at >= self.remind_every
                if self._said:
                    self._say(now, "database down (%s): %s; requests get 503 until it answers",
                              self.description, reason)
                return
            self.in_write = self.in_write or in_write
            if reason != self.reason:
                self.reason = reason
                self._say(now, "database still down (%s), now: %s", self.description, reason)
            elif now - self._said_at >= self.remind_every:
                self._say(now, "database still down after %.0f s (%s): %s; %d operations "
                          "failed since the last line", now - self._since, self.description,
                          reason, self._failures)

    def answered(self, wrote: bool) -> None:
        """A write committed; `wrote`: it was not empty."""
        if self.reason is None or (self.in_write and not wrote):
            return
        with self._lock:
            if self.reason is None:
                return
            if self._said:
                log.warning("database up again after %.1f s (%s)",
                            time.monotonic() - self._since, self.description)
            self.reason, self.in_write = None, False

    def writes_failing(self, within: float) -> str | None:
        """Why writes fail, when one failed inside itself in the last `within` seconds."""
        reason = self.reason
        if reason is not None and self.in_write and \
                time.monotonic() - self.failed_at < within:
            return reason
        return None

    def _say(self, now: float, message: str, *args: Any) -> None:
        log.warning(message, *args)
        self._said, self._said_at, self._failures = True, now, 0


class Store:
    def __init__(self, config: Config, dialect: Dialect | None = None,
                 sink: Sink | None = None, read_only: bool = False) -> None:
        # Read-only (a dry run): no table or index created, no write accepted.
        self.read_only = read_only
        self.dialect: Dialect = dialect or make_dialect(config.database, config.db_timeout,
                                                        read_only)
        self.description = config.database.describe()
        self.availability = Availability(self.description, const.DB_DOWN_REMINDER_SECONDS)
        self.workers = config.db_workers
        self.write_timeout = config.db_timeout
        self._migrations = tuple(map(self._prepared, migrations.load_migrations(self.dialect.name)))
        self._queries: dict[str, Query] = {
            query.name: query for query in (
                *map(self._prepared, load_queries(self.dialect.name).values()), *self._migrations)
        }
        self._executor = ThreadPoolExecutor(config.db_workers, thread_name_prefix="armada-db")
        self._local = threading.local()
        self._connections: set[Any] = set()
        self._connections_lock = threading.Lock()
        self._schema_lock = threading.Lock()
        self._limits: Limits | None = None
        self._closed = False
        # Called on the event loop after each operation: (name, seconds, error or None).
        self.observe: Callable[[str, float, BaseException | None], None] | None = None
        # Where committed changes go; set before the first write.
        self.sink = sink
        # What writes, inside each write's transaction, the notifications its changes owe
        # (armada/alerts/outbox.py); None: no alerts.
        self.outbox: Outbox | None = None
        self._unsettled = 0  # writes handed to the store and not answered yet (event loop)
        self._in_flight = {False: 0, True: 0}
        # Writes of one event loop iteration, handed to the writer together (one wake-up).
        self._gathered: list[PendingWrite] = []
        # None in the queue tells the writer to stop once everything before it is committed.
        self._writes: queue.SimpleQueue[list[PendingWrite] | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="armada-db-writer",
                                        daemon=True)
        self._writer.start()

    # Lifecycle

    async def open(self) -> None:
        """Prepare the schema now if the database answers; otherwise on first use (the
        failure is logged by `availability`). A database that waiting will not mend (a file
        that is not SQLite, one never to be opened, a schema newer than this armada's) raises
        ConfigError: a start stops there."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._open_now)
        except SchemaTooNew:
            raise
        except Exception as error:
            problem = self.dialect.configuration_problem(error)
            if problem is not None:
                raise problem from None
        with contextlib.suppress(StoreUnavailable):
            await self.ping()

    def _open_now(self) -> None:
        """On a worker thread: its connection, and the schema prepared (the first time)."""
        try:
            self._transaction(self._connect_or_forget_schema())
        except BaseException:
            self._discard_connection()
            raise

    async def close(self) -> None:
        """Finish queued operations, then close every connection. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._hand_over()
        self._writes.put(None)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._writer.join)
        await loop.run_in_executor(None, self._executor.shutdown, True)
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            try:
                self.dialect.close(connection)
            except Exception as error:
                log.debug("closing a connection failed: %s", error)

    # Operations: each is one transaction

    async def create_run(self, run: Record) -> Written:
        return await self._call(operations.create_run, run, write=True)

    async def get_run(self, run_uuid: str) -> Record:
        return await self._call(operations.get_run, run_uuid, write=False)

    async def list_runs(self, page: int, page_size: int, since: datetime | None = None,
                        until: datetime | None = None, run_status: str | None = None
                        ) -> tuple[list[Record], int]:
        return await self._call(operations.list_runs, page, page_size, since, until,
                                run_status, write=False)

    async def delete_run(self, run_uuid: str) -> Purged:
        return await self._call(operations.delete_run, run_uuid, write=True)

    async def create_job(self, job: Record) -> Written:
        """The job, created with its run when that is not registered yet."""
        return await self._call(operations.create_job, job, write=True)

    async def get_job(self, job_uuid: str) -> Record:
        return await self._call(operations.get_job, job_uuid, write=False)

    async def list_jobs(self, run_uuid: str | None, page: int, page_size: int, *,
                        status: str | None = None, agent: str | None = None,
                        since: datetime | None = None, until: datetime | None = None
                        ) -> tuple[list[Record], int]:
        return await self._call(operations.list_jobs, run_uuid, page, page_size, status, agent,
                                since, until, write=False)

    async def list_jobs_of_run_page(self, run_uuid: str, limit: int,
                                    before: operations.JobPosition | None = None
                                    ) -> tuple[list[Record], operations.JobPosition | None]:
        return await self._call(operations.list_jobs_of_run_page, run_uuid, limit, before,
                                write=False)

    async def list_undated_jobs_of_run_page(self, run_uuid: str, limit: int,
                                            after_uuid: str = ""
                                            ) -> tuple[list[Record], str | None]:
        return await self._call(operations.list_undated_jobs_of_run_page, run_uuid, limit,
                                after_uuid, write=False)

    async def update_job_status(self, job_uuid: str, job_status: str) -> Written:
        return await self._call(operations.update_job_status, job_uuid, job_status,
                                write=True)

    async def create_event(self, event: Record) -> Written:
        return await self._call(operations.create_event, event, write=True)

    async def create_events(self, events: list[Record]) -> list[Written]:
        return await self._call(operations.create_events, events, write=True)

    async def get_event(self, event_uuid: str) -> Record:
        return await self._call(operations.get_event, event_uuid, write=False)

    async def list_events_page(self, job_uuid: str | None, limit: int,
                               before: operations.EventPosition | None = None, *,
                               status: str | None = None, since: datetime | None = None,
                               until: datetime | None = None
                               ) -> tuple[list[Record], operations.EventPosition | None]:
        return await self._call(operations.list_events_page, job_uuid, limit, before, status,
                                since, until, write=False)

    async def list_undated_events_page(self, job_uuid: str | None, limit: int,
                                       after_uuid: str = "", *, status: str | None = None
                                       ) -> tuple[list[Record], str | None]:
        return await self._call(operations.list_undated_events_page, job_uuid, limit,
                                after_uuid, status, write=False)

    async def update_event_status(self, event_uuid: str, event_status: str) -> Written:
        return await self._call(operations.update_event_status, event_uuid, event_status,
                                write=True)

    async def ping(self) -> None:
        """One empty read transaction: raises StoreUnavailable when the database does not answer."""
        await self._call(_no_operation, write=False)

    # The empty write of ping_writes while it is in the writer's hands: one at a time.
    _write_ping: asyncio.Task[None] | None = None

    async def ping_writes(self) -> None:
        """One empty write transaction through the writer, with the writes waiting beside it
        (on SQLite, BEGIN IMMEDIATE takes the write lock): raises StoreUnavailable when writes
        fail; waits as long as a write would when another connection holds the lock. Callers
        meanwhile wait for the same one, so probes never pile up behind a held lock."""
        if self._write_ping is None or self._write_ping.done():
            self._write_ping = asyncio.create_task(self._call(_no_operation, write=True))
            # Its outcome is read here even when every caller has stopped waiting.
            self._write_ping.add_done_callback(
                lambda done: done.cancelled() or done.exception())
        await asyncio.shield(self._write_ping)

    async def flush(self) -> None:
        """Wait until every write handed to the store so far is answered: committed with its
        changes handed over, or failed (an empty write queued behind them: the writer keeps
        order; background work aside). Nothing to wait for when no write is pending, whether
        the database answers or not."""
        if self._unsettled == 0:
            return
        # Its own failure only says the database failed the writes before it too.
        with contextlib.suppress(StoreUnavailable):
            await self._call(_no_operation, write=True)

    @property
    def pending_writes(self) -> int:
        """Writes handed to the store and not answered yet (their caller may have gone)."""
        return self._unsettled

    # Instances on one database (armada/instances.py)

    async def announce_instance(self, name: str, holder: str, seconds: float) -> None:
        """Background work: the agents' writes go first."""
        await self._call(operations.announce_instance, name, holder, seconds, write=True,
                         background=True)

    async def live_instances(self, name: str) -> list[Record]:
        return await self._call(operations.live_instances, name, write=False)

    async def forget_instance(self, name: str) -> None:
        await self._call(operations.forget_instance, name, write=True)

    # Lost jobs (armada/lost_jobs.py)

    async def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        return await self._call(operations.take_lease, name, holder, seconds, write=True)

    async def stale_jobs(self, stale_seconds: float, limit: int) -> list[str]:
        return await self._call(operations.stale_jobs, stale_seconds, limit, write=False)

    async def mark_job_lost(self, job_uuid: str, stale_seconds: float, event: Record
                            ) -> Written | None:
        """One transaction; its changes (the status, the event) go to the sink."""
        return await self._call(operations.mark_job_lost, job_uuid, stale_seconds, event,
                                write=True)

    async def list_runs_older_than(self, cutoff: datetime, limit: int, offset: int = 0
                                   ) -> list[Record]:
        return await self._call(operations.list_runs_older_than, cutoff, limit, offset,
                                write=False)

    async def purge_run(self, run_uuid: str, old_before: datetime | None = None, *,
                        announce_later: bool = False) -> Purged | None:
        """The run deleted with its jobs and events; None when it was already gone, or with
        `old_before` when it is no longer old (it reported since, or a job is live). With
        `announce_later` the deletion waits in the database for a service to announce it."""
        return await self._call(operations.purge_run, run_uuid, old_before, announce_later,
                                write=True)

    async def count_run_deletions(self) -> int:
        return await self._call(operations.count_run_deletions, write=False)

    async def take_run_deletions(self, limit: int) -> Announced:
        """Runs deleted by another process, taken (once, whatever the replicas): their
        delete_run changes go to the sink."""
        return await self._call(operations.take_run_deletions, limit, write=True)

    async def count_run_contents(self, run_uuid: str) -> tuple[int, int]:
        return await self._call(operations.count_run_contents, run_uuid, write=False)

    # Search

    async def search_events_page(self, terms: list[str], job_uuid: str | None, limit: int,
                                 before: operations.EventPosition | None = None, *,
                                 status: str | None = None, since: datetime | None = None,
                                 until: datetime | None = None
                                 ) -> tuple[list[Record], operations.EventPosition | None]:
        return await self._call(operations.search_events_page, terms, job_uuid, limit, before,
                                status, since, until, write=False)

    async def search_runs(self, text: str, page: int, page_size: int,
                          since: datetime | None = None, until: datetime | None = None
                          ) -> tuple[list[Record], int]:
        return await self._call(operations.search_runs, text, page, page_size, since, until,
                                write=False)

    async def search_jobs(self, text: str, run_uuid: str | None, page: int, page_size: int, *,
                          status: str | None = None, agent: str | None = None,
                          since: datetime | None = None, until: datetime | None = None
                          ) -> tuple[list[Record], int]:
        return await self._call(operations.search_jobs, text, run_uuid, page, page_size,
                                status, agent, since, until, write=False)

    async def search_index_state(self) -> Record:
        return await self._call(operations.search_index_state, write=False)

    async def build_search_index_chunk(self, chunk_rows: int, chunk_characters: int) -> float:
        """Seconds the chunk took to index, in its own transaction (background work)."""
        return await self._call(operations.build_search_index_chunk, chunk_rows,
                                chunk_characters, write=True, background=True)

    async def index_queued_events(self, chunk_rows: int, chunk_characters: int) -> float:
        """Seconds the chunk took to index, in its own transaction (background work)."""
        return await self._call(operations.index_queued_events, chunk_rows, chunk_characters,
                                write=True, background=True)

    # Triage (armada/store/triage.py): what the live page shows, one read per view

    async def list_runs_with_failures(self, page: int, page_size: int,
                                      since: datetime | None = None,
                                      until: datetime | None = None,
                                      run_status: str | None = None
                                      ) -> tuple[list[Record], int]:
        return await self._call(triage.list_runs, page, page_size, since, until, run_status,
                                write=False)

    async def get_run_with_jobs(self, run_uuid: str, page: int, page_size: int
                                ) -> tuple[Record, list[Record], int]:
        return await self._call(triage.get_run_with_jobs, run_uuid, page, page_size,
                                write=False)

    async def list_failures_page(self, limit: int,
                                 before: operations.JobPosition | None = None,
                                 since: datetime | None = None, until: datetime | None = None
                                 ) -> tuple[list[Record], operations.JobPosition | None]:
        return await self._call(triage.list_failures_page, limit, before, since, until,
                                write=False)

    async def search_events_with_jobs(self, terms: list[str], run_uuid: str | None,
                                      job_uuid: str | None, limit: int,
                                      before: operations.EventPosition | None = None
                                      ) -> tuple[list[Record], operations.EventPosition | None]:
        return await self._call(triage.search_events_page, terms, run_uuid, job_uuid, limit,
                                before, write=False)

    # Operations of modules beside the store (armada/alerts/): functions of a Transaction
    # and plain values, as those of operations.py, run the same way

    async def read(self, operation: Callable[..., T], *args: Any) -> T:
        return await self._call(operation, *args, write=False)

    async def write(self, operation: Callable[..., T], *args: Any,
                    background: bool = False) -> T:
        """`background`: after the writes that wait (the agents' go first)."""
        return await self._call(operation, *args, write=True, background=background)

    # Figures for /metrics

    @property
    def pool_size(self) -> int:
        return self.workers + 1

    def connections_in_use(self) -> int:
        """Reader connections busy (at most one per worker) plus the writer's when it works."""
        return min(self._in_flight[False], self.workers) + min(self._in_flight[True], 1)

    # Threading

    async def _call(self, operation: Callable[..., T], *args: Any, write: bool,
                    background: bool = False) -> T:
        if self._closed:
            raise StoreUnavailable("the service is shutting down")
        if write and self.read_only:
            raise RuntimeError(f"{operation.__name__} writes, and this store is read-only")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if write:
            self._unsettled += 1
            now = time.monotonic()
            self._gathered.append(PendingWrite(loop, future, operation, args, now,
                                               now + self.write_timeout, background))
            if len(self._gathered) == 1:
                loop.call_soon(self._hand_over)
        else:
            try:
                self._executor.submit(self._read, loop, future, operation, args)
            except RuntimeError:
                raise StoreUnavailable("the service is shutting down") from None
        started = time.perf_counter()
        self._in_flight[write] += 1
        error: BaseException | None = None
        try:
            return await future
        except BaseException as raised:
            error = raised
            raise
        finally:
            self._in_flight[write] -= 1
            if self.observe is not None:
                self.observe(operation.__name__, time.perf_counter() - started, error)

    def _read(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any],
              operation: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Runs on a worker thread: one read transaction; hands the outcome to the loop."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                connection = self._connect_or_forget_schema()
                tx = self._transaction(connection)
                self.dialect.begin(connection, False)
                try:
                    result = operation(tx, *args)
                except BaseException:
                    self.dialect.rollback(connection)
                    raise
                self.dialect.commit(connection)
            except ApiError as error:
                _settle(loop, [(future, None, error, ())])
                return
            except Exception as error:
                self._discard_connection()
                if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(error):
                    continue
                _settle(loop, [(future, None, self._reported(error), ())])
                return
            _settle(loop, [(future, result, None, ())])
            return

    def _hand_over(self) -> None:
        """On the event loop: pass the writes gathered so far to the writer thread."""
        if self._gathered:
            self._writes.put(self._gathered)
            self._gathered = []

    def _write_loop(self) -> None:
        """The writer thread: commit together the writes that wait, until the queue says
        stop; background writes one at a time, when no other write waits or once the oldest
        has waited BACKGROUND_WRITE_MAX_WAIT_SECONDS (so that it still advances under load)."""
        background: deque[PendingWrite] = deque()
        while True:
            if background and (self._writes.empty() or background[0].queued
                               + const.BACKGROUND_WRITE_MAX_WAIT_SECONDS <= time.monotonic()):
                self._commit_background(background.popleft())
                continue
            batch, stop = self._take_batch(self._writes.get())
            background.extend(write for write in batch if write.background)
            batch = [write for write in batch if not write.background]
            if batch:
                self._commit_safely(batch)
            if stop:
                while background:
                    self._commit_background(background.popleft())
                return

    def _commit_background(self, write: PendingWrite) -> None:
        # Its deadline runs from its turn: it waited for others on purpose.
        write.deadline = time.monotonic() + self.write_timeout
        self._commit_safely([write])

    def _commit_safely(self, batch: list[PendingWrite]) -> None:
        try:
            self._commit_batch(batch)
        except Exception as error:
            log.exception("group commit failed unexpectedly")
            self._answer(batch, error)

    def _take_batch(self, writes: list[PendingWrite] | None
                    ) -> tuple[list[PendingWrite], bool]:
        """The writes to commit together, from `writes` on; and whether the queue said stop.

        Under load (COMMIT_LINGER_FROM_WRITES waiting) it takes in what keeps arriving, for
        up to COMMIT_LINGER_SECONDS, until a gap of COMMIT_LINGER_GAP_SECONDS with none: a
        commit costs the CPU of several writes (its fsync), so a busy service gains more
        from fewer commits than it loses in latency. A lone write never waits.
        """
        batch: list[PendingWrite] = []
        deadline: float | None = None
        while writes is not None:
            batch.extend(writes)
            if len(batch) >= MAX_WRITES_PER_COMMIT:
                return batch, False
            try:
                writes = self._writes.get_nowait()
                continue
            except queue.Empty:
                if len(batch) < const.COMMIT_LINGER_FROM_WRITES:
                    return batch, False
            now = time.monotonic()
            if deadline is None:
                deadline = now + const.COMMIT_LINGER_SECONDS
            wait = min(const.COMMIT_LINGER_GAP_SECONDS, deadline - now)
            if wait <= 0:
                return batch, False
            try:
                writes = self._writes.get(timeout=wait)
            except queue.Empty:
                return batch, False
        return batch, True

    def _commit_batch(self, batch: list[PendingWrite]) -> None:
        """One transaction for the batch; when the database breaks it, retry or split it."""
        attempt = 1
        while batch:
            batch = self._before_deadline(batch)
            if not batch:
                return
            try:
                self._run_batch(batch)
            except _NotBegun as failed:
                if failed.busy:
                    # The lock stayed held until the first deadline: those writes get their
                    # 503 now, the others wait on until theirs.
                    first = min(write.deadline for write in batch)
                    self._answer([write for write in batch if write.deadline <= first],
                                 self._reported(failed.error))
                    batch = [write for write in batch if write.deadline > first]
                    continue
                self._discard_connection()
                if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(failed.error):
                    attempt += 1
                    continue
                self._answer(batch, self._reported(failed.error))
                return
            except _WriteBroke as broke:
                self._discard_connection()
                if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(broke.error):
                    attempt += 1
                    continue
                # The write that broke the transaction answers its error; the rest run again.
                self._answer([broke.write], self._reported(broke.error, in_write=True))
                batch = [write for write in batch if write is not broke.write]
                continue
            except _CommitUnknown as unknown:
                # Never run again: it may be committed. The callers' retries find their rows.
                self._discard_connection()
                reason = self.dialect.unavailable_reason(unknown.error)
                self.availability.failed(reason, in_write=True)
                log.warning("COMMIT of %d writes failed (%s): they may be stored; answered "
                            "503, subscribers told to resync", len(batch), reason)
                self._answer(batch, StoreUnavailable(
                    f"database unavailable: {reason} during COMMIT; the write may be stored,"
                    " so repeat it with the same uuid"), commit_unknown=True)
                return
            except Exception as error:
                self._discard_connection()
                if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(error):
                    attempt += 1
                    continue
                self._answer(batch, self._reported(error, in_write=_writes_something(batch)))
                return
            self.availability.answered(wrote=_writes_something(
                [write for write in batch if write.error is None]))
            self._answer(batch)
            return

    def _before_deadline(self, batch: list[PendingWrite]) -> list[PendingWrite]:
        """The writes whose deadline has not passed; the others are answered 503."""
        now = time.monotonic()
        late = [write for write in batch if write.deadline <= now]
        if not late:
            return batch
        # While the database is down, that is why they waited: say so, as every other 503 does.
        reason = self.availability.reason
        self._answer(late, StoreUnavailable(
            f"database unavailable: {reason}" if reason is not None else
            f"database unavailable: the writes ahead took longer than ARMADA_DB_TIMEOUT "
            f"({self.write_timeout:g} s)"))
        return [write for write in batch if write.deadline > now]

    def _run_batch(self, batch: list[PendingWrite]) -> None:
        try:
            connection = self._connect_or_forget_schema()
            tx = self._transaction(connection)
            wait = max(0.0, min(write.deadline for write in batch) - time.monotonic())
            self.dialect.begin(connection, True, wait)
        except Exception as error:
            raise _NotBegun(error, self.dialect.is_busy(error)) from error
        try:
            for write in batch:
                self._run_write(connection, tx, write)
        except BaseException:
            try:
                self.dialect.rollback(connection)
            except Exception as error:
                log.debug("rollback of a broken batch failed: %s", error)
            raise
        try:
            self.dialect.commit(connection)
        except Exception as error:
            if self.dialect.outcome_unknown(error):
                raise _CommitUnknown(error) from error
            raise

    def _run_write(self, connection: Any, tx: Transaction, write: PendingWrite) -> None:
        """Run one write so that its failure undoes only its changes: in its own savepoint,
        or, for a write of one statement where a failed statement undoes itself, as it is
        (two statements fewer per event on SQLite)."""
        guarded = not (self.dialect.statements_undo_themselves
                       and write.operation in operations.ONE_STATEMENT_WRITES)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if guarded:
                self.dialect.savepoint(connection)
            try:
                result = write.operation(tx, *write.args)
            except Exception as error:
                if not self._undone(connection, guarded):
                    raise _WriteBroke(write, error) from error
                if isinstance(error, ApiError):
                    write.result, write.error = None, error
                    return
                if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(error):
                    continue
                write.result, write.error = None, self._reported(error, in_write=True)
                return
            if self.outbox is not None:
                self._write_outbox(tx, write, result)
            if guarded:
                self.dialect.release(connection)
            write.result, write.error = result, None
            return

    def _write_outbox(self, tx: Transaction, write: PendingWrite, result: Any) -> None:
        """The deliveries the write's changes owe, in its transaction: a failure here takes the
        whole batch back (the write's own statement may not be undone alone), to run again."""
        changes = changes_of(result)
        if not changes:
            return
        assert self.outbox is not None
        try:
            self.outbox.write(tx, changes)
        except Exception as error:
            raise _WriteBroke(write, error) from error

    def _undone(self, connection: Any, guarded: bool) -> bool:
        """Undo a failed write's changes; False when the whole transaction is gone."""
        if not guarded:
            return self.dialect.in_transaction(connection)
        try:
            self.dialect.rollback_to(connection)
        except Exception:
            return False
        return True

    def _transaction(self, connection: Any) -> Transaction:
        limits = self._limits if self._limits is not None else self._prepare(connection)
        return Transaction(connection, self.dialect, self._queries, limits)

    def _reported(self, error: Exception, in_write: bool = False) -> Exception:
        """The error as the caller sees it: StoreUnavailable (a 503) with the reason when
        the database is unavailable; `in_write`: it failed inside a write, not before."""
        if self.dialect.is_unavailable(error):
            reason = self.dialect.unavailable_reason(error)
            self.availability.failed(reason, in_write)
            return StoreUnavailable(f"database unavailable: {reason}")
        return error

    def _answer(self, writes: list[PendingWrite], error: Exception | None = None,
                commit_unknown: bool = False) -> None:
        """Answer the writes in order (with `error` for all when given), one wake-up per
        loop, the changes of each committed one to the sink first; after a COMMIT of
        unknown outcome, `_commit_unknown` runs before them all."""
        sink = self.sink
        outcomes: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for write in writes:
            if error is not None:
                outcome: Outcome = (write.future, None, error, ())
            elif write.error is not None:
                outcome = (write.future, None, write.error, ())
            else:
                changes = changes_of(write.result) if sink is not None else ()
                outcome = (write.future, write.result, None, changes)
            outcomes.setdefault(write.loop, []).append(outcome)
        notice = self._commit_unknown if commit_unknown else None
        for loop, of_loop in outcomes.items():
            _settle(loop, of_loop, notice, self._writes_answered, sink)

    def _commit_unknown(self) -> None:
        if self.sink is not None:
            self.sink.commit_unknown()

    def _writes_answered(self, count: int) -> None:
        self._unsettled -= count

    def _prepare(self, connection: Any) -> Limits:
        """Upgrade the schema to the newest version once per process (migrations); learn the
        column limits (none to learn for a read-only store, which only reads)."""
        if self.read_only:
            return {}
        with self._schema_lock:
            if self._limits is None:
                self._limits = migrations.prepare_schema(connection, self.dialect, self._queries,
                                                         self._migrations, self.description)
                log.info("store ready: %s", self.description)
            return self._limits

    def _prepared(self, query: Query) -> Query:
        return replace(query, statements=tuple(map(self.dialect.prepare, query.statements)))

    def _connect_or_forget_schema(self) -> Any:
        try:
            return self._connection()
        except Exception:
            # Unreachable: what comes back may be a new, empty database; check the schema again.
            self._limits = None
            raise

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self.dialect.connect()
            self._local.connection = connection
            with self._connections_lock:
                self._connections.add(connection)
        return connection

    def _discard_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._connections_lock:
                self._connections.discard(connection)
            close_quietly(connection)


def _no_operation(tx: Transaction) -> None:
    return None


def _writes_something(batch: list[PendingWrite]) -> bool:
    """Whether the batch holds a write other than the empty one (ping_writes, flush)."""
    return any(write.operation is not _no_operation for write in batch)


# A future, its result or error, and for a committed write its changes.
Outcome = tuple[asyncio.Future[Any], Any, BaseException | None, tuple[Change, ...]]


def _settle(loop: asyncio.AbstractEventLoop, outcomes: list[Outcome],
            notice: Callable[[], None] | None = None,
            answered: Callable[[int], None] | None = None, sink: Sink | None = None) -> None:
    """Hand each committed write's changes to `sink`, and set each future's
    result or error on its loop, in the order given (a cancelled future's write is still
    handed over); `notice` first, and `answered` with their number last."""
    def settle() -> None:
        if notice is not None:
            try:
                notice()
            except Exception:
                log.exception("notice of %s failed", notice)
        for future, result, error, changes in outcomes:
            if changes and sink is not None:
                try:
                    sink.committed(changes)
                except Exception:
                    log.exception("sink %r failed on %d changes", sink, len(changes))
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
        if answered is not None:
            answered(len(outcomes))

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:
        log.warning("event loop closed before a database result could be delivered")
