"""The store: the only code that knows about threads, connections and dialects.

Each operation runs as one transaction on an executor thread. Every worker thread owns
one connection (so the pool is exactly as large as the executor); a connection that
failed is closed and replaced on that thread's next operation, never reused.
Results of writes reach the event loop in commit order, so handlers that broadcast
right after `await store.x()` broadcast in commit order too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

from armada.config import Config
from armada.errors import ApiError, StoreUnavailable
from armada.store import operations
from armada.store.dialects import Dialect, make_dialect
from armada.store.queries import Query, load_queries
from armada.store.transaction import Limits, Record, Transaction

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ATTEMPTS = 3


class Store:
    def __init__(self, config: Config) -> None:
        self.dialect: Dialect = make_dialect(config.database, config.db_timeout)
        self.description = config.database.describe()
        self.workers = config.db_workers
        self._queries: dict[str, Query] = {
            name: replace(query, statements=tuple(map(self.dialect.prepare, query.statements)))
            for name, query in load_queries(self.dialect.name).items()
        }
        self._executor = ThreadPoolExecutor(config.db_workers, thread_name_prefix="armada-db")
        self._local = threading.local()
        self._connections: set[Any] = set()
        self._connections_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._schema_lock = threading.Lock()
        self._limits: Limits | None = None
        self._closed = False

    # Lifecycle

    async def open(self) -> None:
        """Prepare the schema now if the database answers; otherwise on first use."""
        try:
            await self._call(_no_operation, write=False)
        except StoreUnavailable as error:
            log.warning("database not available yet (%s): %s", self.description, error.detail)

    async def close(self) -> None:
        """Finish queued operations, then close every connection. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            _close_quietly(connection)

    # Operations: each is one transaction

    async def create_run(self, run: Record) -> tuple[Record, bool]:
        return await self._call(operations.create_run, run, write=True)

    async def list_runs(self, page: int, page_size: int) -> tuple[list[Record], int]:
        return await self._call(operations.list_runs, page, page_size, write=False)

    async def delete_run(self, run_uuid: str) -> None:
        await self._call(operations.delete_run, run_uuid, write=True)

    async def create_job(self, job: Record) -> tuple[Record, bool, Record | None]:
        return await self._call(operations.create_job, job, write=True)

    async def list_jobs(self, run_uuid: str | None, page: int, page_size: int
                        ) -> tuple[list[Record], int]:
        return await self._call(operations.list_jobs, run_uuid, page, page_size, write=False)

    async def update_job_status(self, job_uuid: str, job_status: str) -> None:
        await self._call(operations.update_job_status, job_uuid, job_status, write=True)

    async def create_event(self, event: Record) -> tuple[Record, bool]:
        return await self._call(operations.create_event, event, write=True)

    async def list_events(self, job_uuid: str) -> list[Record]:
        return await self._call(operations.list_events, job_uuid, write=False)

    async def update_event_status(self, event_uuid: str, event_status: str) -> None:
        await self._call(operations.update_event_status, event_uuid, event_status, write=True)

    # Threading

    async def _call(self, operation: Callable[..., T], *args: Any, write: bool) -> T:
        if self._closed:
            raise StoreUnavailable("the service is shutting down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        try:
            self._executor.submit(self._work, loop, future, operation, args, write)
        except RuntimeError:
            raise StoreUnavailable("the service is shutting down") from None
        return await future

    def _work(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any],
              operation: Callable[..., Any], args: tuple[Any, ...], write: bool) -> None:
        """Runs on a worker thread; hands the outcome to the loop, writes in commit order."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                connection = self._connect_or_forget_schema()
                limits = self._limits if self._limits is not None else self._prepare(connection)
                tx = Transaction(connection, self.dialect, self._queries, limits)
                self.dialect.begin(connection, write)
                try:
                    result = operation(tx, *args)
                except BaseException:
                    self.dialect.rollback(connection)
                    raise
                if write:
                    with self._commit_lock:
                        self.dialect.commit(connection)
                        _settle(loop, future, result=result)
                else:
                    self.dialect.commit(connection)
                    _settle(loop, future, result=result)
                return
            except ApiError as error:
                _settle(loop, future, error=error)
                return
            except Exception as error:
                self._discard_connection()
                if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(error):
                    continue
                if self.dialect.is_unavailable(error):
                    log.warning("database unavailable: %s", error)
                    error = StoreUnavailable(f"database unavailable: {_first_line(error)}")
                _settle(loop, future, error=error)
                return

    def _prepare(self, connection: Any) -> Limits:
        """Create missing tables and indexes once per process; learn the column limits."""
        with self._schema_lock:
            if self._limits is None:
                tx = Transaction(connection, self.dialect, self._queries, {})
                self.dialect.begin(connection, True)
                try:
                    limits = operations.prepare_schema(tx)
                except BaseException:
                    self.dialect.rollback(connection)
                    raise
                self.dialect.commit(connection)
                log.info("store ready: %s", self.description)
                self._limits = limits
            return self._limits

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
            _close_quietly(connection)


def _no_operation(tx: Transaction) -> None:
    return None


def _settle(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], *,
            result: Any = None, error: BaseException | None = None) -> None:
    def settle() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:
        log.warning("event loop closed before a database result could be delivered")


def _close_quietly(connection: Any) -> None:
    try:
        connection.close()
    except Exception as error:
        log.debug("closing a connection failed: %s", error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]
