"""The one middleware, and the one error path: every exception becomes the spec's JSON
error shape here.

One layer on purpose, since each layer costs every request: it writes the request's log
line and metrics (request_log.py), turns any exception into the JSON error, checks the
origin and the token (auth.py, security.py) and bounds the handler by its deadline
(deadlines.py), outermost to innermost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import Any

from aiohttp import web
from marshmallow import ValidationError
from marshmallow.exceptions import SCHEMA

from armada import const
from armada.errors import ApiError
from armada.http.auth import admitted
from armada.http.deadlines import Deadlines
from armada.http.request_log import add_request_id, log_refused, log_request, request_id_of
from armada.http.security import add_security_headers
from armada.jsonutil import dumps
from armada.metrics import Metrics

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
# A request whose client went away, in the log and the metrics (nginx's code for it).
CLIENT_CLOSED = 499
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


def service_middleware(metrics: Metrics, deadlines: Deadlines) -> Any:
    """The one middleware (see the module's docstring)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = request_id_of(request)
        status = 500
        error_code: str | None = None
        try:
            try:
                inner = admitted(request)
                if request.path.startswith(const.WEBSOCKET_PREFIX):
                    response = await handler(inner)  # a subscription lasts as its client does
                else:
                    with deadlines.bound():
                        response = await handler(inner)
            except ApiError as error:
                response = error_response(error.status, error.body(), error.headers())
            except ValidationError as error:
                response = error_response(422, validation_body(error))
            except web.HTTPException as error:
                if error.status < 400:
                    raise
                response = http_error_response(error)
            except Exception:
                log.exception("unexpected error in %s %s", request.method, request.path)
                response = error_response(
                    500, {"error": "internal_error", "detail": "unexpected server error (logged)"}
                )
            status = response.status
            if status >= 400:
                error_code = response.get(ERROR_CODE)
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        finally:
            log_request(metrics, request, status, started, request_id, error_code)

    return middleware


def http_error_response(error: web.HTTPException) -> web.Response:
    """aiohttp's own 4xx and 5xx (an unknown path, a method not allowed) in the JSON shape."""
    headers = {name: error.headers[name] for name in PASSED_HEADERS if name in error.headers}
    code = HTTP_ERROR_CODES.get(error.status, "http_error")
    detail = error.text if error.text and not error.text.startswith(str(error.status)) \
        else error.reason
    return error_response(error.status, {"error": code, "detail": detail}, headers)


def refused_before_reading(request: web.BaseRequest, status: int, detail: str
                           ) -> web.StreamResponse:
    """The answer to a request aiohttp's parser refused (armada.private_api.aiohttp_bad_request):
    the JSON error, the headers no response hook adds to it, and one log line."""
    response = error_response(status, {"error": HTTP_ERROR_CODES.get(status, "bad_request"),
                                       "detail": detail})
    add_security_headers(request, response)
    add_request_id(request, response)
    log_refused(request, status, detail)
    return response
