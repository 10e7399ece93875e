"""One HTTP connection to the service, kept alive between requests, and what an answer means."""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import re
import time
import urllib.parse
from typing import Any, NamedTuple

from armada_client.errors import ConflictError, NotFoundError, RequestRejected

TOKEN_VARIABLE = "ARMADA_TOKEN"
# RFC 6750's b64token: what an Authorization header carries without quoting.
TOKEN_SYNTAX = re.compile(r"[A-Za-z0-9._~+/-]+=*")
MAX_BACKOFF_EXPONENT = 32  # beyond it the cap always wins; keeps 2**n a small float
# Asked to come back later: retried like a 5xx.
RETRIED_STATUSES = frozenset({408, 429})
# What a failed exchange may raise before an HTTP status is known: refused, reset, timed out.
TRANSIENT_ERRORS = (OSError, http.client.HTTPException)
# The service closed a kept-alive connection meanwhile: the request was not read.
STALE_CONNECTION_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError,
                           BrokenPipeError)


class Answer(NamedTuple):
    status: int
    headers: http.client.HTTPMessage  # its get() ignores the names' case
    payload: bytes


def clean_token(token: str | None) -> str | None:
    """`token` without surrounding blanks, None when empty; ValueError (which does not repeat
    it) when it is not a bearer token's characters."""
    token = (token or "").strip()
    if not token:
        return None
    if not TOKEN_SYNTAX.fullmatch(token):
        raise ValueError("the token is not a bearer token: letters, digits and ._~+/- only")
    return token


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


def is_retried(status: int) -> bool:
    return status >= 500 or status in RETRIED_STATUSES


class Connection:
    """Requests to the service at `base_url` (a path prefix such as `/tracking` kept) over one
    kept-alive connection, opened again after any failure. Redirects are answers: a POST
    that followed one would turn into a GET whose 200 looks like success."""

    def __init__(self, base_url: str, authorization: str | None, timeout: float,
                 user_agent: str) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http:// or https:// address, not {base_url!r}")
        self._secure = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         "User-Agent": user_agent}
        if authorization is not None:
            self._headers["Authorization"] = authorization
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes) -> Answer:
        """One exchange; an HTTP error status is an answer here, not an exception."""
        reused = self._connection is not None
        try:
            return self._exchange(method, path, body)
        except STALE_CONNECTION_ERRORS:
            self.close()
            if not reused:
                raise
        return self._exchange(method, path, body)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _exchange(self, method: str, path: str, body: bytes) -> Answer:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._secure else http.client.HTTPConnection
            self._connection = kind(self._host, self._port, timeout=self._timeout)
        try:
            self._connection.request(method, self._prefix + path, body=body,
                                     headers=self._headers)
            response = self._connection.getresponse()
            payload = response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return Answer(response.status, response.headers, payload)


def json_or_none(payload: bytes) -> Any:
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return None


def detail(payload: bytes) -> str:
    """The `detail` of the service's JSON error, else the start of the body."""
    body = json_or_none(payload)
    if isinstance(body, dict) and isinstance(message := body.get("detail"), str):
        return message
    return payload[:200].decode("utf-8", "replace") or "(empty body)"


def rejected(what: str, answer: Answer, *, token_sent: bool) -> RequestRejected:
    """The error of a 3xx or 4xx answer to `what`."""
    status = answer.status
    kind = {404: NotFoundError, 409: ConflictError}.get(status, RequestRejected)
    if status < 400:
        location = str(answer.headers.get("Location"))[:300]
        reason = f"redirected to {location}; give that address as base_url (or BACKEND_URL)"
    else:
        reason = detail(answer.payload)
    if status == 401 and not token_sent:
        reason += f" (no token was sent: pass token= or set {TOKEN_VARIABLE})"
    return kind(f"{what} rejected with HTTP {status}: {reason}",
                status=status, body=json_or_none(answer.payload))
