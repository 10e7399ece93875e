"""The agents' client: report a job and its events to the tracking service, retried safely.

A drop-in for the existing monitoring client; an agent switches by changing one import::

    from armada.client import MonitoringClient

    client = MonitoringClient(run_uuid, agent_number, job_uuid).create_job()
    client.record_success_event("Page loaded")
    client.record_finalsuccess_event("Done")     # or: client.record_failed_event("Error: ...")

What it sends (`POST /api/jobs/`, `POST /api/events/`, `PATCH /api/jobs/status`):

- `job_associated_agent` is `str(agent_number)`, e.g. `"3"`: what the existing client sends, so
  dashboards keep showing the agents as before.
- Datetimes are UTC now as `YYYY-MM-DDTHH:MM:SS.mmm`, with real milliseconds (the existing
  client always sent `.000`), so a job's events sort in the order they were sent.
- `create_job()` registers the job as `Running` (and its run, when the launcher has not yet).
  Calling it again re-sends its first body: the service answers 200 with the stored job, its
  status whatever it is now, and nothing changes.
- `record_success_event(c)` stores a `Success` event. `record_finalsuccess_event(c)` and
  `record_failed_event(c)` store a `Success`/`Failed` event, then set the job's status; when
  that second request fails, the event is stored already.
- Every method returns the client, as the existing one does (`...create_job()` chains).

Retries, safe because the service's creates are idempotent:

- Every body, its uuid and datetime included, is built once before the first attempt; a retry
  re-sends it unchanged, so a create that was committed but whose answer was lost answers 200
  with the stored record, and nothing is stored twice. A status PATCH is idempotent by nature.
- Retried: connection errors, timeouts, a connection closed before the answer, and every 5xx
  (503 included). The delay before retry n (from 0) is uniform in
  `[0, min(max_delay, base_delay * 2**n)]` ("full jitter"), or the server's `Retry-After` when
  that is longer; at most `max_attempts` attempts within `deadline` seconds per call.
- Never retried: a 3xx or 4xx. 409 raises `ConflictError` (the uuid exists with other
  values), 404 raises `NotFoundError` (for an event: its job does not exist, `create_job()`
  first), any other raises `RequestRejected` (a 401: no token, or not a write token of the
  service). Retries exhausted raise `ServiceUnavailable`.
- Every error is an `ArmadaClientError`, a `RuntimeError` like the existing client's errors, so
  agents' `except RuntimeError` keeps working. With `raise_errors=False` a method logs the
  error (`armada.client` logger), keeps it in `last_error`, and returns instead of raising.

Calls block while they retry (up to `deadline`): from async code use
`await asyncio.to_thread(client.record_success_event, "...")`. The base URL is the
`base_url` keyword, else `BACKEND_URL`, else `http://127.0.0.1:8000` (a `/tracking` prefix
behind nginx is fine).

When the service requires tokens (`ARMADA_WRITE_TOKENS`), every request carries
`Authorization: Bearer <token>`: the `token` keyword, else `ARMADA_TOKEN`. The token never
appears in a log line, an error or the repr. A redirect is not followed (urllib would turn a
POST into a GET that answers 200, and carry the token to wherever the redirect points): it
raises `RequestRejected` naming the new address, for `base_url`.

This module uses the standard library only; it can be copied alone.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import os
import random
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
TOKEN_VARIABLE = "ARMADA_TOKEN"
# RFC 6750's b64token: what an Authorization header carries without quoting.
TOKEN_SYNTAX = re.compile(r"[A-Za-z0-9._~+/-]+=*")
REQUEST_TIMEOUT_SECONDS = 10.0
BASE_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 30.0
MAX_ATTEMPTS = 10
DEADLINE_SECONDS = 120.0
MAX_BACKOFF_EXPONENT = 32  # beyond it the cap always wins; keeps 2**n a small float

STATUS_RUNNING = "Running"
STATUS_SUCCESS = "Success"
STATUS_FAILED = "Failed"

# What a failed attempt may raise before an HTTP status is known: refused, reset, timed out.
TRANSIENT_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException)


class ArmadaClientError(RuntimeError):
    """A report the service did not take; `status` is the HTTP status when one came."""

    def __init__(self, message: str, status: int | None = None,
                 body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class RequestRejected(ArmadaClientError):
    """The service answered 3xx or 4xx: sending the same request again cannot succeed."""


class ConflictError(RequestRejected):
    """409: the uuid exists with other values (`body` holds the stored and the sent versions)."""


class NotFoundError(RequestRejected):
    """404: the job (of an event, or of a status change) does not exist."""


class ServiceUnavailable(ArmadaClientError):
    """Every attempt failed with a connection error, a timeout or a 5xx."""


def backoff_delay(retry: int, base_delay: float, max_delay: float,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry `retry` (0 for the first): full jitter, capped."""
    ceiling = min(max_delay, base_delay * 2 ** min(retry, MAX_BACKOFF_EXPONENT))
    return (rng or random).uniform(0, ceiling)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A `Retry-After` header (seconds, or an HTTP date) in seconds; None when absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def clean_token(token: str | None) -> str | None:
    """`token` without surrounding blanks, None when empty; ValueError (which does not repeat
    it) when it is not a bearer token's characters."""
    token = (token or "").strip()
    if not token:
        return None
    if not TOKEN_SYNTAX.fullmatch(token):
        raise ValueError("the token is not a bearer token: letters, digits and ._~+/- only")
    return token


def now_utc() -> str:
    """Now in UTC, as agents send datetimes: `2026-02-24T10:30:00.123`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def new_uuid() -> str:
    return str(uuid.uuid4())


class MonitoringClient:
    """Reports one job of one run, from one agent, to the tracking service."""

    def __init__(self, run_uuid: str, agent_number: int | str, job_uuid: str | None = None, *,
                 base_url: str | None = None,
                 token: str | None = None,
                 timeout: float = REQUEST_TIMEOUT_SECONDS,
                 base_delay: float = BASE_DELAY_SECONDS,
                 max_delay: float = MAX_DELAY_SECONDS,
                 max_attempts: int = MAX_ATTEMPTS,
                 deadline: float = DEADLINE_SECONDS,
                 raise_errors: bool = True,
                 rng: random.Random | None = None) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.run_uuid = run_uuid
        self.agent_number = agent_number
        self.job_uuid = job_uuid or new_uuid()
        url = base_url or os.environ.get("BACKEND_URL") or DEFAULT_BASE_URL
        self.base_url = url.rstrip("/")
        # token="" sends none, even with ARMADA_TOKEN set.
        secret = clean_token(token if token is not None else os.environ.get(TOKEN_VARIABLE))
        self._authorization = None if secret is None else f"Bearer {secret}"
        self.timeout = timeout
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_attempts = max_attempts
        self.deadline = deadline
        self.raise_errors = raise_errors
        self.rng = rng or random.Random()
        self.last_error: ArmadaClientError | None = None
        self._job: dict[str, Any] | None = None
        self._opener = urllib.request.build_opener(_RedirectRefused)

    def __repr__(self) -> str:
        token = ", token=***" if self._authorization else ""
        return (f"MonitoringClient(run_uuid={self.run_uuid!r}, agent_number={self.agent_number!r},"
                f" job_uuid={self.job_uuid!r}, base_url={self.base_url!r}{token})")

    # The existing client's methods.

    def create_job(self) -> MonitoringClient:
        """Register the job as Running; again later, the same body (the service answers 200)."""
        if self._job is None:
            self._job = {
                "job_uuid": self.job_uuid,
                "run_uuid": self.run_uuid,
                "job_datetime": now_utc(),
                "job_associated_agent": str(self.agent_number),
                "job_status": STATUS_RUNNING,
            }
        job = self._job
        return self._report(lambda: self._request("POST", "/api/jobs/", job))

    def record_success_event(self, event_content: str) -> MonitoringClient:
        event = self._event(event_content, STATUS_SUCCESS)
        return self._report(lambda: self._request("POST", "/api/events/", event))

    def record_finalsuccess_event(self, event_content: str) -> MonitoringClient:
        """A Success event, then the job's status to Success."""
        return self._finish(event_content, STATUS_SUCCESS)

    def record_failed_event(self, event_content: str) -> MonitoringClient:
        """A Failed event, then the job's status to Failed."""
        return self._finish(event_content, STATUS_FAILED)

    # Internals.

    def _event(self, content: str, status: str) -> dict[str, Any]:
        return {
            "event_uuid": new_uuid(),
            "event_content": content,
            "job_uuid": self.job_uuid,
            "event_datetime": now_utc(),
            "event_status": status,
        }

    def _finish(self, content: str, status: str) -> MonitoringClient:
        event = self._event(content, status)
        change = {"job_uuid": self.job_uuid, "job_status": status}

        def send() -> None:
            self._request("POST", "/api/events/", event)
            self._request("PATCH", "/api/jobs/status", change)

        return self._report(send)

    def _report(self, send: Callable[[], Any]) -> MonitoringClient:
        try:
            send()
        except ArmadaClientError as error:
            self.last_error = error
            if self.raise_errors:
                raise
            log.error("armada client: report of job %s not delivered: %s", self.job_uuid, error)
        return self

    def _request(self, method: str, path: str, body: Mapping[str, Any]) -> Any:
        """Send `body` until the service answers 2xx (its JSON) or 4xx (raised), within limits."""
        data = json.dumps(body).encode()
        started = time.monotonic()
        what = f"{method} {path}"
        attempt = 0
        while True:
            attempt += 1
            remaining = self.deadline - (time.monotonic() - started)
            retry_after: float | None = None
            last_status: int | None = None
            try:
                status, headers, payload = self._send(method, path, data,
                                                      min(self.timeout, max(remaining, 0.001)))
            except TRANSIENT_ERRORS as error:
                reason = f"{type(error).__name__}: {error}"
            else:
                if status < 300:
                    return _json_or_none(payload)
                if status < 500:
                    raise _rejected(what, status, headers, payload,
                                    token_sent=self._authorization is not None)
                last_status = status
                reason = f"HTTP {status}: {_detail(payload)}"
                retry_after = retry_after_seconds(headers.get("Retry-After"))

            delay = backoff_delay(attempt - 1, self.base_delay, self.max_delay, self.rng)
            if retry_after is not None:
                delay = max(delay, retry_after)
            remaining = self.deadline - (time.monotonic() - started)
            if attempt >= self.max_attempts or delay >= remaining:
                log.error("armada client: %s gave up after %d attempts in %.1fs: %s",
                          what, attempt, time.monotonic() - started, reason)
                raise ServiceUnavailable(
                    f"{what} failed after {attempt} attempts: {reason}",
                    status=last_status,
                )
            log.warning("armada client: %s failed (%s), attempt %d of %d, retrying in %.2fs",
                        what, reason, attempt, self.max_attempts, delay)
            time.sleep(delay)

    def _send(self, method: str, path: str, data: bytes, timeout: float
              ) -> tuple[int, Mapping[str, str], bytes]:
        """One HTTP exchange; an HTTP error status is an answer here, not an exception."""
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        if self._authorization is not None:
            request.add_unredirected_header("Authorization", self._authorization)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, error.read()


ArmadaMonitoringClient = MonitoringClient


class _RedirectRefused(urllib.request.HTTPRedirectHandler):
    """A 3xx comes back as an answer (see the module's docstring)."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Mapping[str, str], newurl: str) -> None:
        return None


def _json_or_none(payload: bytes) -> Any:
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return None


def _detail(payload: bytes) -> str:
    """The `detail` of the service's JSON error, else the start of the body."""
    body = _json_or_none(payload)
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"]
    return payload[:200].decode("utf-8", "replace") or "(empty body)"


def _rejected(what: str, status: int, headers: Mapping[str, str], payload: bytes, *,
              token_sent: bool) -> RequestRejected:
    kind = {404: NotFoundError, 409: ConflictError}.get(status, RequestRejected)
    if status < 400:
        location = str(headers.get("Location"))[:300]
        detail = f"redirected to {location}; give that address as base_url (or BACKEND_URL)"
    else:
        detail = _detail(payload)
    if status == 401 and not token_sent:
        detail += f" (no token was sent: pass token= or set {TOKEN_VARIABLE})"
    return kind(f"{what} rejected with HTTP {status}: {detail}",
                status=status, body=_json_or_none(payload))
