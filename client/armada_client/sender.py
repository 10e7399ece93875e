"""The background sender: the reports to one service wait in one bounded queue, in the order
they were made, and one thread sends them, events batched into `POST /api/events/batch`.

Every report is built whole (its uuid and datetime included) before it is queued, so that
sending it again after a lost answer changes nothing: the service answers a repeated create
with the stored record. The head of the queue is retried until the service answers it;
nothing behind it overtakes it, so a job's reports arrive in order.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple

from armada_client.errors import ArmadaClientError, RequestRejected, ServiceUnavailable
from armada_client.transport import (
    TRANSIENT_ERRORS,
    Connection,
    backoff_delay,
    detail,
    is_retried,
    rejected,
    retry_after_seconds,
)

log = logging.getLogger("armada_client")

BATCH_PATH = "/api/events/batch"
# The service's limits: const.MAX_BATCH_EVENTS events, const.MAX_BODY_BYTES (1 MiB) a body.
MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 512 * 1024
# A sender with nothing to send for this long ends its thread; the next report starts one.
IDLE_SECONDS = 5.0
# A Retry-After beyond this is taken as this: the head of the queue is never parked for long.
MAX_RETRY_AFTER_SECONDS = 60.0
# Answers that refuse a whole batch for a reason no event of it can change.
WHOLE_BATCH_REFUSALS = frozenset({401, 403})
DROP_LOG_INTERVAL_SECONDS = 1.0


def batch_due(monotonic_now: float, wall_now: float, window: float) -> float:
    """When a batch begun now leaves, on the monotonic clock: at the next tick of a clock that
    every agent shares, UTC time in steps of `window`, so the batches of agents whose clocks
    are set reach the service together and share its commit and its fan-out. The wall clock
    only sets the phase: the wait is never longer than `window`, whatever it does."""
    if window <= 0:
        return monotonic_now
    return monotonic_now + window - wall_now % window


class Settings(NamedTuple):
    """What makes two clients share one sender (one queue, one thread, one connection)."""

    base_url: str
    authorization: str | None
    timeout: float
    base_delay: float
    max_delay: float
    max_queue: int
    batch_window: float


class Ledger:
    """What became of one client's reports; written by its sender under the sender's lock."""

    def __init__(self) -> None:
        self.last_seq = -1
        self.pending = 0
        self.dropped = 0
        self.dropped_raised = 0
        self.last_error: ArmadaClientError | None = None
        self.unraised: list[ArmadaClientError] = []


class Report:
    """One request to make: an event (batched with its neighbours) or any other write."""

    __slots__ = ("body", "due", "is_event", "ledger", "method", "path", "seq", "what")

    def __init__(self, what: str, method: str, path: str, body: bytes, ledger: Ledger, *,
                 is_event: bool) -> None:
        self.what = what
        self.method = method
        self.path = path
        self.body = body
        self.ledger = ledger
        self.is_event = is_event
        self.seq = -1
        self.due = 0.0  # when the batch it heads leaves (time.monotonic): batch_due


class Sender:
    """One queue and one thread for the reports to one service (see the module's docstring)."""

    def __init__(self, settings: Settings, user_agent: str,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.user_agent = user_agent
        self.exit_timeout = 0.0
        self.dropped = 0
        self.last_failure: str | None = None
        self._rng = rng or random.Random()
        self._queue: deque[Report] = deque()
        self._queued_bytes = 0
        self._in_flight: Sequence[Report] = ()
        self._next_seq = 0
        self._flushing = 0
        self._failing_since: float | None = None
        self._last_drop_log = float("-inf")
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)

    @property
    def queued(self) -> int:
        """Reports not settled yet: queued or being sent."""
        with self._lock:
            return len(self._queue) + len(self._in_flight)

    def put(self, report: Report) -> None:
        """Queue `report` at once; when the queue is full, the oldest queued event makes room."""
        dropped: Report | None = None
        with self._lock:
            report.seq = self._next_seq
            self._next_seq += 1
            report.due = batch_due(time.monotonic(), time.time(), self.settings.batch_window)
            report.ledger.last_seq = report.seq
            report.ledger.pending += 1
            if len(self._queue) >= self.settings.max_queue:
                oldest = next((index for index, queued in enumerate(self._queue)
                               if queued.is_event), None)
                dropped = report if oldest is None else self._queue[oldest]
                self._drop(dropped)
                if oldest is not None:
                    del self._queue[oldest]
                    self._queued_bytes -= len(dropped.body)
            if dropped is not report:
                self._queue.append(report)
                self._queued_bytes += len(report.body)
                # The thread waits for the first report, or for a batch to fill.
                if (len(self._queue) == 1 or len(self._queue) >= MAX_BATCH_EVENTS
                        or self._queued_bytes >= MAX_BATCH_BYTES):
                    self._work.notify()
                if self._thread is None:
                    self._start_thread()
            now = time.monotonic()
            tell = dropped is not None and now - self._last_drop_log >= DROP_LOG_INTERVAL_SECONDS
            if tell:
                self._last_drop_log = now
        if tell and dropped is not None:
            log.warning("armada client: queue full (%d reports), dropped %s; %d dropped so far",
                        self.settings.max_queue, dropped.what, self.dropped)

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._run, name="armada-client-sender", daemon=True)
        try:
            thread.start()
        except RuntimeError as error:
            # The interpreter is shutting down: what is queued can no longer be sent.
            log.error("armada client: no sender thread (%s); %d reports not sent",
                      error, len(self._queue))
            return
        self._thread = thread

    def forget_thread(self) -> None:
        """In a forked child: the parent's thread and lock state are not ours. What is queued
        is sent again from here, which the service's idempotent creates make harmless."""
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)
        self._thread = None
        self._queue.extendleft(reversed(self._in_flight))
        self._queued_bytes += sum(len(report.body) for report in self._in_flight)
        self._in_flight = ()
        if self._queue:
            self._start_thread()

    def flush(self, ledger: Ledger | None, timeout: float) -> bool:
        """Send at once, and wait up to `timeout` seconds until every report queued so far
        (of `ledger` and those before it, or all) is delivered or refused; False if not."""
        end = time.monotonic() + timeout
        with self._lock:
            target = self._next_seq - 1 if ledger is None else ledger.last_seq
            self._flushing += 1
            self._work.notify()
            try:
                while self._oldest_unsettled() <= target:
                    remaining = end - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._settled.wait(remaining)
                return True
            finally:
                self._flushing -= 1

    def take_errors(self, ledger: Ledger) -> list[ArmadaClientError]:
        """The errors of `ledger` not handed out yet: refusals, then one for the dropped."""
        with self._lock:
            errors, ledger.unraised = ledger.unraised, []
            dropped = ledger.dropped - ledger.dropped_raised
            if dropped:
                ledger.dropped_raised = ledger.dropped
                errors.append(ServiceUnavailable(
                    f"{dropped} reports dropped: the queue was full "
                    f"({self.settings.max_queue} reports) while the service was unreachable"))
            return errors

    def pending(self, ledger: Ledger) -> int:
        with self._lock:
            return ledger.pending

    def _oldest_unsettled(self) -> int:
        if self._in_flight:
            return self._in_flight[0].seq
        if self._queue:
            return self._queue[0].seq
        return self._next_seq

    def _drop(self, report: Report) -> None:
        self.dropped += 1
        report.ledger.dropped += 1
        report.ledger.pending -= 1
        self._settled.notify_all()

    # The sender's thread.

    def _run(self) -> None:
        settings = self.settings
        connection = Connection(settings.base_url, settings.authorization, settings.timeout,
                                self.user_agent)
        try:
            while True:
                reports = self._take()
                if reports is None:
                    return
                try:
                    self._deliver(connection, reports)
                except Exception as error:
                    log.exception("armada client: sending %s failed", reports[0].what)
                    for report in reports:
                        self._refuse(report, ArmadaClientError(f"{report.what} not sent: {error}"))
                finally:
                    with self._lock:
                        for report in reports:
                            report.ledger.pending -= 1
                        self._in_flight = ()
                        self._settled.notify_all()
        finally:
            connection.close()

    def _take(self) -> list[Report] | None:
        """The next reports to send, as soon as they are due; None when idle for long."""
        with self._lock:
            idle_until = time.monotonic() + IDLE_SECONDS
            while True:
                if not self._queue:
                    remaining = idle_until - time.monotonic()
                    if remaining <= 0:
                        self._thread = None
                        return None
                    self._work.wait(remaining)
                    continue
                head = self._queue[0]
                if head.is_event and not self._batch_due():
                    self._work.wait(head.due - time.monotonic())
                    continue
                reports = [self._queue.popleft()]
                size = len(head.body)
                while (head.is_event and self._queue and self._queue[0].is_event
                       and len(reports) < MAX_BATCH_EVENTS
                       and size + 1 + len(self._queue[0].body) <= MAX_BATCH_BYTES):
                    reports.append(self._queue.popleft())
                    size += 1 + len(reports[-1].body)
                self._queued_bytes -= sum(len(report.body) for report in reports)
                self._in_flight = reports
                return reports

    def _batch_due(self) -> bool:
        return (self._flushing > 0 or len(self._queue) >= MAX_BATCH_EVENTS
                or self._queued_bytes >= MAX_BATCH_BYTES
                or time.monotonic() >= self._queue[0].due)

    def _deliver(self, connection: Connection, reports: list[Report]) -> None:
        if reports[0].is_event:
            body = b'{"events":[' + b",".join(report.body for report in reports) + b"]}"
            what = reports[0].what if len(reports) == 1 else \
                f"a batch of {len(reports)} events"
            error = self._send(connection, "POST", BATCH_PATH, body, what)
            if (error is not None and len(reports) > 1
                    and error.status not in WHOLE_BATCH_REFUSALS):
                # The batch stored nothing: each event alone, so one refused event costs
                # only itself.
                for report in reports:
                    self._deliver(connection, [report])
                return
        else:
            report = reports[0]
            error = self._send(connection, report.method, report.path, report.body, report.what)
        if error is not None:
            for report in reports:
                self._refuse(report, error)

    def _send(self, connection: Connection, method: str, path: str, body: bytes,
              what: str) -> RequestRejected | None:
        """Send until the service answers: None for a 2xx, the error of a refusal."""
        retry = 0
        while True:
            retry_after: float | None = None
            try:
                answer = connection.request(method, path, body)
            except TRANSIENT_ERRORS as error:
                reason = f"{type(error).__name__}: {error}"
            else:
                if not is_retried(answer.status):
                    self._answered()
                    if answer.status < 300:
                        return None
                    return rejected(what, answer,
                                    token_sent=self.settings.authorization is not None)
                reason = f"HTTP {answer.status}: {detail(answer.payload)}"
                retry_after = retry_after_seconds(answer.headers.get("Retry-After"))
            delay = backoff_delay(retry, self.settings.base_delay, self.settings.max_delay,
                                  self._rng)
            if retry_after is not None:
                delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
            self._failed(what, reason, delay)
            time.sleep(delay)
            retry += 1

    def _failed(self, what: str, reason: str, delay: float) -> None:
        with self._lock:
            self.last_failure = reason
            queued = len(self._queue) + len(self._in_flight)
            first = self._failing_since is None
            if first:
                self._failing_since = time.monotonic()
        if first:
            log.warning("armada client: %s failed (%s); %d reports queued, retrying until the"
                        " service answers", what, reason, queued)
        else:
            log.debug("armada client: %s failed (%s), retrying in %.2fs", what, reason, delay)

    def _answered(self) -> None:
        with self._lock:
            since, self._failing_since = self._failing_since, None
            queued = len(self._queue) + len(self._in_flight)
        if since is not None:
            log.warning("armada client: the service answers again after %.1fs; %d reports to"
                        " send", time.monotonic() - since, queued)

    def _refuse(self, report: Report, error: ArmadaClientError) -> None:
        with self._lock:
            report.ledger.last_error = error
            report.ledger.unraised.append(error)
        log.error("armada client: %s not delivered: %s", report.what, error)


_senders: dict[Settings, Sender] = {}
_senders_lock = threading.Lock()


def sender_for(settings: Settings, user_agent: str, exit_timeout: float,
               rng: random.Random | None = None) -> Sender:
    """The process's one sender for `settings`; it waits up to `exit_timeout` at exit."""
    with _senders_lock:
        sender = _senders.get(settings)
        if sender is None:
            sender = _senders[settings] = Sender(settings, user_agent, rng)
        sender.exit_timeout = max(sender.exit_timeout, exit_timeout)
        return sender


def _forget_threads() -> None:
    global _senders_lock
    _senders_lock = threading.Lock()
    for sender in _senders.values():
        sender.forget_thread()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads)


@atexit.register
def flush_at_exit() -> None:
    """At interpreter exit, each sender gets up to its clients' longest `deadline`."""
    with _senders_lock:
        senders = list(_senders.values())
    for sender in senders:
        if not sender.flush(None, sender.exit_timeout):
            log.error("armada client: %d reports to %s not delivered at exit (%s)",
                      sender.queued, sender.settings.base_url, sender.last_failure)
