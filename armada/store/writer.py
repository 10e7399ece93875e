"""The writer: one thread that commits the store's writes together (group commit).

It takes every write waiting in its queue (under load, also what keeps arriving for up to
2 ms), runs each inside its own savepoint of one shared transaction (a failing write is
rolled back alone; see _run_write for the writes that need none), commits once, and only
then answers them all, in order. So each request still gets its answer only after its own
write is on disk, and one fsync serves a whole burst.

Background work (the search index) is written in transactions of its own, when no other
write waits (or once it has waited BACKGROUND_WRITE_MAX_WAIT_SECONDS): an agent's write
never waits for more than one such chunk. Every other write has one deadline,
ARMADA_DB_TIMEOUT from when it was handed over, whatever waits ahead of it: past it, it is
answered 503 and not run, and a BEGIN waits for the lock only until the first deadline
of its batch.

The changes of each committed write go to the store's `sink`, on the event loop, in commit
order, before the write's caller resumes, and even when the caller has gone (a request cut
by its timeout): so the order of the stream is the order of the commits.

A COMMIT that fails because the connection broke leaves its outcome unknown: its writes
are answered 503 (a retry finds what was stored) and the sink's `commit_unknown` runs on
the event loop, in commit order, so that subscribers learn they may have missed changes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from armada import const
from armada.changes import Change, Sink, changes_of
from armada.errors import ApiError, StoreUnavailable
from armada.store import operations
from armada.store.availability import Availability
from armada.store.dialects import Dialect
from armada.store.transaction import Outbox, Transaction

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# Writes committed together (about, at most): bounds how long the first of a burst waits.
MAX_WRITES_PER_COMMIT = 256


@dataclass(slots=True)
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
    changes: tuple[Change, ...] = ()  # of the result, read once: for the outbox and the sink


class _WriteBroke(Exception):
    """A write failed and took the shared transaction with it (its savepoint is gone, or it
    ran without one: operations.UNGUARDED_WRITES)."""

    def __init__(self, write: PendingWrite, error: Exception, refused: bool = False) -> None:
        super().__init__(str(error))
        self.write = write
        self.error = error
        self.refused = refused  # an unguarded write's ApiError: its answer, nothing broken


class _WriteUndone(Exception):
    """A write alone in its transaction, run without a savepoint, failed: the transaction's
    rollback undoes it as ROLLBACK TO would have, and the connection goes on."""

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


class Host(Protocol):
    """What the writer uses of the store it writes for."""

    dialect: Dialect
    availability: Availability
    sink: Sink | None  # where committed changes go; read at each answer
    outbox: Outbox | None  # what writes the notifications a write's changes owe, in its transaction
    write_timeout: float

    def connection_and_transaction(self) -> tuple[Any, Transaction]:
        """This thread's connection, and a Transaction on it (the schema prepared)."""

    def discard_connection(self) -> None:
        """Close this thread's connection: the next operation opens another."""

    def reported(self, error: Exception, in_write: bool = False) -> Exception:
        """The error as the caller sees it (StoreUnavailable with the reason, when the
        database is unavailable)."""


class Writer:
    """The writer thread and its queue: `submit` on the event loop, `close` to stop it."""

    def __init__(self, store: Host) -> None:
        self._store = store
        self.dialect = store.dialect
        self.availability = store.availability
        # The writes run without a savepoint (_run_write): where a failed statement undoes
        # itself, those of one statement, and those whose failure takes all back.
        undo_themselves = self.dialect.statements_undo_themselves
        self._one_statement = operations.ONE_STATEMENT_WRITES if undo_themselves else frozenset()
        self._takes_all_back = operations.UNGUARDED_WRITES if undo_themselves else frozenset()
        self.unsettled = 0  # writes handed over and not answered yet (event loop)
        # Writes of one event loop iteration, handed to the writer together (one wake-up).
        self._gathered: list[PendingWrite] = []
        # None in the queue tells the writer to stop once everything before it is committed.
        self._writes: queue.SimpleQueue[list[PendingWrite] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="armada-db-writer",
                                        daemon=True)
        self._thread.start()

    def submit(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any],
               operation: Callable[..., Any], args: tuple[Any, ...], background: bool) -> None:
        """On the event loop: queue one write; `future` gets its answer after its commit."""
        self.unsettled += 1
        now = time.monotonic()
        self._gathered.append(PendingWrite(loop, future, operation, args, now,
                                           now + self._store.write_timeout, background))
        if len(self._gathered) == 1:
            loop.call_soon(self._hand_over)

    async def close(self) -> None:
        """Commit everything queued, then stop the thread."""
        self._hand_over()
        self._writes.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)

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
            if _has_background(batch):
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
        write.deadline = time.monotonic() + self._store.write_timeout
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
            # This thread alone takes from the queue: what is not empty has a next item.
            if not self._writes.empty():
                writes = self._writes.get_nowait()
                continue
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
                    first = _first_deadline(batch)
                    self._answer([write for write in batch if write.deadline <= first],
                                 self._store.reported(failed.error))
                    batch = [write for write in batch if write.deadline > first]
                    continue
                self._store.discard_connection()
                if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(failed.error):
                    attempt += 1
                    continue
                self._answer(batch, self._store.reported(failed.error))
                return
            except _WriteBroke as broke:
                # A refusal leaves the connection sound (the transaction is rolled back).
                if not broke.refused:
                    self._store.discard_connection()
                    if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(broke.error):
                        attempt += 1
                        continue
                # The write that broke the transaction answers its error; the rest run again.
                self._answer([broke.write], broke.error if broke.refused else
                             self._store.reported(broke.error, in_write=True))
                batch = [write for write in batch if write is not broke.write]
                continue
            except _WriteUndone as undone:
                # As a savepoint's failure: an ApiError is its answer, another error is
                # run again when it may pass (a new transaction), else reported.
                error = undone.error
                if not isinstance(error, ApiError):
                    if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(error):
                        attempt += 1
                        continue
                    error = self._store.reported(error, in_write=True)
                if self.availability.reason is not None:
                    self.availability.answered(wrote=False)
                self._answer(batch, error)
                return
            except _CommitUnknown as unknown:
                # Never run again: it may be committed. The callers' retries find their rows.
                self._store.discard_connection()
                reason = self.dialect.unavailable_reason(unknown.error)
                self.availability.failed(reason, in_write=True)
                log.warning("COMMIT of %d writes failed (%s): they may be stored; answered "
                            "503, subscribers told to resync", len(batch), reason)
                self._answer(batch, StoreUnavailable(
                    f"database unavailable: {reason} during COMMIT; the write may be stored,"
                    " so repeat it with the same uuid"), commit_unknown=True)
                return
            except Exception as error:
                self._store.discard_connection()
                if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(error):
                    attempt += 1
                    continue
                self._answer(batch, self._store.reported(error, in_write=_writes_something(batch)))
                return
            if self.availability.reason is not None:  # nothing to tell while it is up
                self.availability.answered(wrote=_writes_something(
                    [write for write in batch if write.error is None]))
            self._answer(batch)
            return

    def _before_deadline(self, batch: list[PendingWrite]) -> list[PendingWrite]:
        """The writes whose deadline has not passed; the others are answered 503."""
        now = time.monotonic()
        if _first_deadline(batch) > now:
            return batch
        late = [write for write in batch if write.deadline <= now]
        # While the database is down, that is why they waited: say so, as every other 503 does.
        reason = self.availability.reason
        self._answer(late, StoreUnavailable(
            f"database unavailable: {reason}" if reason is not None else
            f"database unavailable: the writes ahead took longer than ARMADA_DB_TIMEOUT "
            f"({self._store.write_timeout:g} s)"))
        return [write for write in batch if write.deadline > now]

    def _run_batch(self, batch: list[PendingWrite]) -> None:
        try:
            connection, tx = self._store.connection_and_transaction()
            wait = max(0.0, _first_deadline(batch) - time.monotonic())
            self.dialect.begin(connection, True, wait)
        except Exception as error:
            raise _NotBegun(error, self.dialect.is_busy(error)) from error
        alone = len(batch) == 1
        try:
            for write in batch:
                self._run_write(connection, tx, write, alone)
        except BaseException as failure:
            try:
                self.dialect.rollback(connection)
            except Exception as error:
                log.debug("rollback of a broken batch failed: %s", error)
                if isinstance(failure, _WriteUndone):  # not undone: the connection broke
                    raise _WriteBroke(failure.write, failure.error) from failure.error
            raise
        try:
            self.dialect.commit(connection)
        except Exception as error:
            if self.dialect.outcome_unknown(error):
                raise _CommitUnknown(error) from error
            raise

    def _run_write(self, connection: Any, tx: Transaction, write: PendingWrite,
                   alone: bool) -> None:
        """Run one write so that its failure undoes only its changes: in its own savepoint,
        or, for a write of one statement where a failed statement undoes itself, as it is
        (two statements fewer per event on SQLite). An unguarded write of many statements
        that fails takes the whole transaction back (_WriteBroke), the others to run again.
        A write `alone` in its transaction needs no savepoint either: when it fails, the
        transaction's rollback undoes it (_WriteUndone)."""
        takes_all_back = write.operation in self._takes_all_back
        one_statement = write.operation in self._one_statement
        guarded = not (takes_all_back or one_statement or alone)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if guarded:
                self.dialect.savepoint(connection)
            try:
                result = write.operation(tx, *write.args)
            except Exception as error:
                if takes_all_back:
                    raise _WriteBroke(write, error, isinstance(error, ApiError)) from error
                # A transaction already gone (SQLite ends it on I/O errors) is a broken
                # connection, as a ROLLBACK TO that fails.
                if not self._undone(connection, guarded):
                    raise _WriteBroke(write, error) from error
                if alone and not one_statement:
                    raise _WriteUndone(write, error) from error
                if isinstance(error, ApiError):
                    write.result, write.error = None, error
                    return
                if attempt < MAX_ATTEMPTS and self.dialect.is_retryable(error):
                    continue
                write.result, write.error = None, self._store.reported(error, in_write=True)
                return
            write.changes = changes_of(result)
            outbox = self._store.outbox
            if outbox is not None and write.changes:
                self._write_outbox(tx, write, outbox)
            if guarded:
                self.dialect.release(connection)
            write.result, write.error = result, None
            return

    def _write_outbox(self, tx: Transaction, write: PendingWrite, outbox: Outbox) -> None:
        """The deliveries the write's changes owe, in its transaction: a failure here takes the
        whole batch back (the write's own statement may not be undone alone), to run again."""
        try:
            outbox.write(tx, write.changes)
        except Exception as error:
            raise _WriteBroke(write, error) from error

    def _undone(self, connection: Any, guarded: bool) -> bool:
        """Undo a failed write's changes (unguarded: the failed statement undid its own);
        False when the whole transaction is gone."""
        try:
            if not guarded:
                return self.dialect.in_transaction(connection)
            self.dialect.rollback_to(connection)
        except Exception:
            return False
        return True

    def _answer(self, writes: list[PendingWrite], error: Exception | None = None,
                commit_unknown: bool = False) -> None:
        """Answer the writes in order (with `error` for all when given), one wake-up per
        loop, the changes of each committed one to the sink first; after a COMMIT of
        unknown outcome, `_commit_unknown` runs before them all."""
        sink = self._store.sink
        outcomes: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for write in writes:
            if error is not None:
                outcome: Outcome = (write.future, None, error, ())
            elif write.error is not None:
                outcome = (write.future, None, write.error, ())
            else:
                outcome = (write.future, write.result, None, write.changes)
            outcomes.setdefault(write.loop, []).append(outcome)
        notice = self._commit_unknown if commit_unknown else None
        for loop, of_loop in outcomes.items():
            settle(loop, of_loop, notice, self._writes_answered, sink)

    def _commit_unknown(self) -> None:
        sink = self._store.sink
        if sink is not None:
            sink.commit_unknown()

    def _writes_answered(self, count: int) -> None:
        self.unsettled -= count


def no_operation(tx: Transaction) -> None:
    """The empty operation: a ping's transaction, or a write that waits for those before it."""
    return None


def _writes_something(batch: list[PendingWrite]) -> bool:
    """Whether the batch holds a write other than the empty one (ping_writes, flush)."""
    return any(write.operation is not no_operation for write in batch)


def _has_background(batch: list[PendingWrite]) -> bool:
    """Whether the batch holds background work (a loop: cheaper than any() for a few)."""
    for write in batch:
        if write.background:
            return True
    return False


def _first_deadline(batch: list[PendingWrite]) -> float:
    """The batch's earliest deadline (a loop: a third of min()'s cost for a write or two)."""
    first = batch[0].deadline
    for write in batch:
        if write.deadline < first:
            first = write.deadline
    return first


# A future, its result or error, and for a committed write its changes.
Outcome = tuple[asyncio.Future[Any], Any, BaseException | None, tuple[Change, ...]]


def settle(loop: asyncio.AbstractEventLoop, outcomes: list[Outcome],
           notice: Callable[[], None] | None = None,
           answered: Callable[[int], None] | None = None, sink: Sink | None = None) -> None:
    """Hand each committed write's changes to `sink`, and set each future's
    result or error on its loop, in the order given (a cancelled future's write is still
    handed over); `notice` first, and `answered` with their number last."""
    def on_loop() -> None:
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
        loop.call_soon_threadsafe(on_loop)
    except RuntimeError:
        log.warning("event loop closed before a database result could be delivered")


