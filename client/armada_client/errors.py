"""What the client raises: every error is a `RuntimeError`, as the platform's client raised."""

from __future__ import annotations

from typing import Any


class ArmadaClientError(RuntimeError):
    """A report the service did not take; `status` is the HTTP status when one came."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class RequestRejected(ArmadaClientError):
    """The service answered 3xx or 4xx: sending the same report again cannot succeed."""


class ConflictError(RequestRejected):
    """409: the uuid exists with other values (`body` holds the stored and the sent versions)."""


class NotFoundError(RequestRejected):
    """404: the job (of an event, or of a status change) does not exist."""


class ServiceUnavailable(ArmadaClientError):
    """Reports not delivered: the service stayed unreachable for the time allowed, or the queue
    was full and some were dropped."""
