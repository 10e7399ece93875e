"""`MonitoringClient`: the platform's monitoring client, whose calls return at once."""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from armada_client.errors import ArmadaClientError, ServiceUnavailable
from armada_client.sender import Ledger, Report, Settings, sender_for
from armada_client.transport import TOKEN_VARIABLE, clean_token
from armada_client.version import __version__

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
REQUEST_TIMEOUT_SECONDS = 10.0
BASE_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 5.0
MAX_ATTEMPTS = 10
# How long flush(), close() and the exit flush wait when not told.
DEADLINE_SECONDS = 10.0
MAX_QUEUE = 10_000
BATCH_WINDOW_SECONDS = 0.02

STATUS_RUNNING = "Running"
STATUS_SUCCESS = "Success"
STATUS_FAILED = "Failed"
STATUS_CANCELLED = "Cancelled"
# The statuses an agent reports, as the service spells them (it takes any letter case).
STATUSES = ("Running", "Success", "Failed", "Pending", "Cancelled")


def now_utc() -> str:
    """Now in UTC, as agents send datetimes: `2026-02-24T10:30:00.123`."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def new_uuid() -> str:
    """A version 7 UUID (RFC 9562): Unix time in milliseconds, the fraction of the millisecond
    (12 bits: the RFC's "increased clock precision"), then 62 random bits from os.urandom.
    Ids sort in the order they were made (to a quarter of a microsecond, while the clock
    does not step back), so the service files each new event beside the last in its index
    of event ids instead of on a random page of it: fewer pages written per commit."""
    nanoseconds = time.time_ns()
    milliseconds, fraction = divmod(nanoseconds, 1_000_000)
    value = (milliseconds << 80 | 0x7 << 76 | (fraction * 4096 // 1_000_000) << 64
             | 0b10 << 62 | int.from_bytes(os.urandom(8), "big") >> 2)
    return str(uuid.UUID(int=value))


def canonical_status(status: str) -> str:
    for known in STATUSES:
        if status.lower() == known.lower():
            return known
    raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")


class MonitoringClient:
    """Reports one job of one run, from one agent, to the tracking service.

    Every report method queues its request and returns the client at once; a background
    thread sends the queue (see the package's README). `flush()` waits for delivery.
    """

    def __init__(self, run_uuid: str, agent_number: int | str,
                 job_uuid: str | None = None, *,
                 base_url: str | None = None,
                 token: str | None = None,
                 timeout: float = REQUEST_TIMEOUT_SECONDS,
                 base_delay: float = BASE_DELAY_SECONDS,
                 max_delay: float = MAX_DELAY_SECONDS,
                 max_attempts: int = MAX_ATTEMPTS,
                 deadline: float = DEADLINE_SECONDS,
                 raise_errors: bool = True,
                 rng: random.Random | None = None,
                 max_queue: int = MAX_QUEUE,
                 batch_window: float = BATCH_WINDOW_SECONDS) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.run_uuid = run_uuid
        self.agent_number = agent_number
        self.job_uuid = job_uuid or new_uuid()
        url = base_url or os.environ.get("BACKEND_URL") or DEFAULT_BASE_URL
        self.base_url = url.rstrip("/")
        # token="" sends none, even with ARMADA_TOKEN set.
        secret = clean_token(token if token is not None else os.environ.get(TOKEN_VARIABLE))
        self.deadline = deadline
        self.max_attempts = max_attempts
        self.raise_errors = raise_errors
        self._ledger = Ledger()
        self._sender = sender_for(
            Settings(self.base_url, None if secret is None else f"Bearer {secret}", timeout,
                     base_delay, max_delay, max_queue, batch_window),
            user_agent=f"armada-client/{__version__}", exit_timeout=deadline, rng=rng)
        self._job: bytes | None = None

    def __repr__(self) -> str:
        token = ", token=***" if self._sender.settings.authorization else ""
        return (f"MonitoringClient(run_uuid={self.run_uuid!r}, agent_number={self.agent_number!r},"
                f" job_uuid={self.job_uuid!r}, base_url={self.base_url!r}{token})")

    def __enter__(self) -> MonitoringClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The platform's client's methods.

    def create_job(self) -> MonitoringClient:
        """Register the job as Running; again later, the same body (the service answers 200)."""
        if self._job is None:
            self._job = _encode({
                "job_uuid": self.job_uuid,
                "run_uuid": self.run_uuid,
                "job_datetime": now_utc(),
                "job_associated_agent": str(self.agent_number),
                "job_status": STATUS_RUNNING,
            })
        return self._put(f"job {self.job_uuid}", "POST", "/api/jobs/", self._job)

    def record_success_event(self, event_content: str) -> MonitoringClient:
        return self._event(event_content, STATUS_SUCCESS)

    def record_finalsuccess_event(self, event_content: str) -> MonitoringClient:
        """A Success event, then the job's status to Success."""
        return self._event(event_content, STATUS_SUCCESS)._job_status(STATUS_SUCCESS)

    def record_failed_event(self, event_content: str) -> MonitoringClient:
        """A Failed event, then the job's status to Failed."""
        return self._event(event_content, STATUS_FAILED)._job_status(STATUS_FAILED)

    # Beyond the platform's client.

    def record_event(self, event_content: str, status: str = STATUS_RUNNING) -> MonitoringClient:
        """An event of any status (a step under way by default); the job's status stays."""
        return self._event(event_content, canonical_status(status))

    def cancel_job(self, event_content: str | None = None) -> MonitoringClient:
        """The job's status to Cancelled, after a Cancelled event when `event_content` is given."""
        if event_content is not None:
            self._event(event_content, STATUS_CANCELLED)
        return self._job_status(STATUS_CANCELLED)

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now, and wait up to `timeout` seconds (default `deadline`) until
        every report made so far is delivered or refused: True when all are settled.

        With `raise_errors`, raises the first report refused or dropped since the last raise,
        or `ServiceUnavailable` when the time ran out with reports of this client unsent.
        """
        wait = self.deadline if timeout is None else timeout
        settled = self._sender.flush(self._ledger, wait)
        errors = self._sender.take_errors(self._ledger)
        if not settled:
            errors.append(ServiceUnavailable(
                f"{self.pending} reports of job {self.job_uuid} not delivered within {wait:g}s"
                f" (the client keeps sending them): {self._sender.last_failure}"))
        if errors:
            self._ledger.last_error = errors[-1]
            if self.raise_errors:
                raise errors[0]
        return settled

    def close(self, timeout: float | None = None) -> bool:
        """flush(): the client keeps no resource of its own (its sender is shared)."""
        return self.flush(timeout)

    @property
    def pending(self) -> int:
        """This client's reports not yet delivered nor refused."""
        return self._sender.pending(self._ledger)

    @property
    def dropped(self) -> int:
        """This client's reports dropped because the queue was full."""
        return self._ledger.dropped

    @property
    def last_error(self) -> ArmadaClientError | None:
        """The last report refused (or dropped, or unsent at a flush's end), else None."""
        return self._ledger.last_error

    # Internals.

    def _event(self, content: str, status: str) -> MonitoringClient:
        event_uuid = new_uuid()
        body = _encode({
            "event_uuid": event_uuid,
            "event_content": content,
            "job_uuid": self.job_uuid,
            "event_datetime": now_utc(),
            "event_status": status,
        })
        return self._put(f"event {event_uuid} of job {self.job_uuid}", "POST",
                         "/api/events/", body, is_event=True)

    def _job_status(self, status: str) -> MonitoringClient:
        body = _encode({"job_uuid": self.job_uuid, "job_status": status})
        return self._put(f"status {status} of job {self.job_uuid}", "PATCH",
                         "/api/jobs/status", body)

    def _put(self, what: str, method: str, path: str, body: bytes, *,
             is_event: bool = False) -> MonitoringClient:
        self._sender.put(Report(what, method, path, body, self._ledger, is_event=is_event))
        return self


ArmadaMonitoringClient = MonitoringClient


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()
