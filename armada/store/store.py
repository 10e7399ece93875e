"""The store: the only code that knows about threads, connections and dialects.

Reads run as one transaction each on an executor thread. Writes go through one writer
thread that commits them together (armada/store/writer.py: group commit, each write's
deadline, what a broken COMMIT means).

Each write answers what it changed (armada/changes.py). The store hands the changes
of each committed write to its one `sink`, on the event loop, in commit order, before the
write's caller resumes, and even when the caller has gone (a request cut by its timeout):
so the order of the stream is the order of the commits. Callers get the typed answer and
build no callbacks.

Every thread owns one connection; a connection that failed is closed and replaced on
that thread's next operation, never reused.

When the database does not answer, each operation fails with StoreUnavailable (a 503)
carrying the dialect's reason ("connection refused", "login failed", "database is
locked"), and the log says so once per change (armada/store/availability.py), not once per
failure; only a write says it is up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from armada import const
from armada.changes import Announced, Record, RunDeleted, Sink, Written
from armada.config import Config, ConfigError
from armada.errors import ApiError, StoreUnavailable
from armada.store import migrations, operations, triage
from armada.store.availability import Availability
from armada.store.dialects import Dialect, close_quietly, make_dialect
from armada.store.queries import Query, load_queries
from armada.store.transaction import Outbox, Transaction, in_transaction
from armada.store.writer import MAX_ATTEMPTS, Writer, no_operation, settle

log = logging.getLogger(__name__)

# A read-only store learns nothing of the schema: it only reads.
READ_ONLY_SCHEMA = migrations.Schema({}, frozenset())

T = TypeVar("T")


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
        self._schema: migrations.Schema | None = None
        self._closed = False
        # Called on the event loop after each operation: (name, seconds, error or None).
        self.observe: Callable[[str, float, BaseException | None], None] | None = None
        # Where committed changes go; set before the first write.
        self.sink = sink
        # What writes, inside each write's transaction, the notifications its changes owe
        # (armada/alerts/outbox.py); None: no alerts.
        self.outbox: Outbox | None = None
        self._in_flight = {False: 0, True: 0}
        self._writer = Writer(self)

    # Lifecycle

    async def open(self) -> None:
        """Prepare the schema now if the database answers; otherwise on first use (the
        failure is logged by `availability`). A database that waiting will not mend (a file
        that is not SQLite, one never to be opened, a schema newer than this armada's) raises
        ConfigError: a start stops there."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._open_now)
        except ConfigError:
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
            self.discard_connection()
            raise

    async def close(self) -> None:
        """Finish queued operations, then close every connection. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self._writer.close()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._executor.shutdown, True)
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            close_quietly(connection, self.dialect.close)

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

    async def delete_run(self, run_uuid: str) -> RunDeleted:
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
        await self._call(no_operation, write=False)

    # The empty write of ping_writes while it is in the writer's hands: one at a time.
    _write_ping: asyncio.Task[None] | None = None

    async def ping_writes(self) -> None:
        """One empty write transaction through the writer, with the writes waiting beside it
        (on SQLite, BEGIN IMMEDIATE takes the write lock): raises StoreUnavailable when writes
        fail; waits as long as a write would when another connection holds the lock. Callers
        meanwhile wait for the same one, so probes never pile up behind a held lock."""
        if self._write_ping is None or self._write_ping.done():
            self._write_ping = asyncio.create_task(self._call(no_operation, write=True))
            # Its outcome is read here even when every caller has stopped waiting.
            self._write_ping.add_done_callback(
                lambda done: done.cancelled() or done.exception())
        await asyncio.shield(self._write_ping)

    async def flush(self) -> None:
        """Wait until every write handed to the store so far is answered: committed with its
        changes handed over, or failed (an empty write queued behind them: the writer keeps
        order; background work aside). Nothing to wait for when no write is pending, whether
        the database answers or not."""
        if self._writer.unsettled == 0:
            return
        # Its own failure only says the database failed the writes before it too.
        with contextlib.suppress(StoreUnavailable):
            await self._call(no_operation, write=True)

    @property
    def pending_writes(self) -> int:
        """Writes handed to the store and not answered yet (their caller may have gone)."""
        return self._writer.unsettled

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
                        announce_later: bool = False) -> RunDeleted | None:
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
            self._writer.submit(loop, future, operation, args, background)
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
                connection, tx = self.connection_and_transaction()
                result = in_transaction(connection, self.dialect, False,
                                        functools.partial(operation, tx, *args))
            except ApiError as error:
                settle(loop, [(future, None, error, ())])
                return
            except Exception as error:
                self.discard_connection()
                if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(error):
                    continue
                settle(loop, [(future, None, self.reported(error), ())])
                return
            settle(loop, [(future, result, None, ())])
            return

    # What the writer uses (armada/store/writer.py: Host), and the reads too

    def connection_and_transaction(self) -> tuple[Any, Transaction]:
        """This thread's connection, and a Transaction on it (the schema prepared): the same
        one while the connection and the schema's limits are."""
        connection = self._connect_or_forget_schema()
        tx = getattr(self._local, "transaction", None)
        if tx is None or self._schema is None \
                or not tx.works_on(connection, self._schema.limits):
            tx = self._local.transaction = self._transaction(connection)
        return connection, tx

    def _transaction(self, connection: Any) -> Transaction:
        schema = self._schema if self._schema is not None else self._prepare(connection)
        return Transaction(connection, self.dialect, self._queries, schema.limits,
                           schema.keyless)

    def reported(self, error: Exception, in_write: bool = False) -> Exception:
        """The error as the caller sees it: StoreUnavailable (a 503) with the reason when
        the database is unavailable; `in_write`: it failed inside a write, not before."""
        if self.dialect.is_unavailable(error):
            reason = self.dialect.unavailable_reason(error)
            self.availability.failed(reason, in_write)
            return StoreUnavailable(f"database unavailable: {reason}")
        return error

    def _prepare(self, connection: Any) -> migrations.Schema:
        """Upgrade the schema to the newest version once per process (migrations); learn the
        column limits and the keyless tables (none to learn for a read-only store, which only
        reads)."""
        if self.read_only:
            return READ_ONLY_SCHEMA
        with self._schema_lock:
            if self._schema is None:
                self._schema = migrations.prepare_schema(connection, self.dialect, self._queries,
                                                         self._migrations, self.description)
                log.info("store ready: %s", self.description)
            return self._schema

    def _prepared(self, query: Query) -> Query:
        return replace(query, statements=tuple(map(self.dialect.prepare, query.statements)))

    def _connect_or_forget_schema(self) -> Any:
        try:
            return self._connection()
        except Exception:
            # Unreachable: what comes back may be a new, empty database; check the schema again.
            self._schema = None
            raise

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self.dialect.connect()
            self._local.connection = connection
            with self._connections_lock:
                self._connections.add(connection)
        return connection

    def discard_connection(self) -> None:
        """Close this thread's connection: the next operation opens another."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._connections_lock:
                self._connections.discard(connection)
            close_quietly(connection)
