"""Exceptions that the error middleware turns into the spec's JSON error shape."""

from __future__ import annotations

from typing import Any

from armada import const


class ApiError(Exception):
    """An error with an HTTP status, a stable `error` code and a human `detail`."""

    status = 400
    code = "bad_request"

    def __init__(self, detail: str, fields: dict[str, list[str]] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "detail": self.detail}
        if self.fields is not None:
            body["fields"] = self.fields
        body.update(self.extra)
        return body

    def headers(self) -> dict[str, str]:
        return {}


class InvalidJson(ApiError):
    status = 400
    code = "invalid_json"


class UnsupportedMediaType(ApiError):
    """A body that is not declared `application/json`."""

    status = 415
    code = "unsupported_media_type"


class ValidationFailed(ApiError):
    status = 422
    code = "validation_error"


class FieldTooLong(ValidationFailed):
    """A text value is longer than the database column that would receive it."""

    def __init__(self, field: str, limit: int) -> None:
        message = f"Longer than maximum length {limit}."
        super().__init__(f"{field} is longer than {limit} characters", {field: [message]})
        self.field = field
        self.limit = limit


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class UpgradeRequired(ApiError):
    """A plain HTTP request to the WebSocket path."""

    status = 426
    code = "upgrade_required"

    def headers(self) -> dict[str, str]:
        return {"Upgrade": "websocket", "Sec-WebSocket-Version": "13"}


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class StoreUnavailable(ApiError):
    """The database cannot be reached, or stayed locked past the busy timeout."""

    status = 503
    code = "database_unavailable"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(const.RETRY_AFTER_SECONDS)}


class Unauthorized(ApiError):
    """No bearer token, or one that is not allowed here; `challenge` goes in WWW-Authenticate."""

    status = 401
    code = "unauthorized"

    def __init__(self, detail: str, challenge: str) -> None:
        super().__init__(detail)
        self.challenge = challenge

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.challenge}


class OriginRefused(ApiError):
    status = 403
    code = "forbidden"


class RequestTimeout(StoreUnavailable):
    """The request took longer than ARMADA_REQUEST_TIMEOUT."""

    code = "request_timeout"


class NotReady(StoreUnavailable):
    """The readiness probe: the database did not answer, or not in time."""

    code = "not_ready"
