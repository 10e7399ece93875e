"""The one error path: every exception becomes the spec's JSON error shape here."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from aiohttp import web
from marshmallow import ValidationError
from marshmallow.exceptions import SCHEMA

from armada.errors import ApiError
from armada.jsonutil import dumps

log = logging.getLogger(__name__)

HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    431: "headers_too_large",
}
# The name a validation error gives the body as a whole (one that is not a JSON object).
BODY_FIELD = "body"
PASSED_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")
# The `error` of the body, for the request's log line.
ERROR_CODE = web.ResponseKey("error_code", str)
# Errors echo client input (an unknown field named "\ud800"); ASCII escapes always encode.
error_dumps = partial(dumps, ensure_ascii=True)


def error_response(status: int, body: dict[str, Any],
                   headers: dict[str, str] | None = None) -> web.Response:
    response = web.json_response(body, status=status, headers=headers, dumps=error_dumps)
    response[ERROR_CODE] = body["error"]
    return response


def validation_body(error: ValidationError) -> dict[str, Any]:
    fields = _named(error.messages if isinstance(error.messages, dict)
                    else {SCHEMA: error.messages})
    return {
        "error": "validation_error",
        "detail": "invalid " + ", ".join(sorted(map(str, fields))),
        "fields": fields,
    }


def _named(messages: Any, top: bool = True) -> Any:
    """marshmallow's messages without its internal `_schema` key, under which it files what
    it says of a whole value (one that is not an object): the body's are the body's, a
    nested value's are its field's or list item's own."""
    if not isinstance(messages, dict):
        return messages
    if not top and set(messages) == {SCHEMA}:
        return messages[SCHEMA]
    return {(BODY_FIELD if key == SCHEMA else key): _named(value, top=False)
            for key, value in messages.items()}


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.status, error.body(), error.headers())
    except ValidationError as error:
        return error_response(422, validation_body(error))
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers = {name: error.headers[name] for name in PASSED_HEADERS if name in error.headers}
        code = HTTP_ERROR_CODES.get(error.status, "http_error")
        detail = error.text if error.text and not error.text.startswith(str(error.status)) \
            else error.reason
        return error_response(error.status, {"error": code, "detail": detail}, headers)
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return error_response(
            500, {"error": "internal_error", "detail": "unexpected server error (logged)"}
        )
