"""One log line per request (method, path, status, duration, request id), and X-Request-ID.

Replaces aiohttp's access log. The path is logged without its query string, so a
WebSocket `?token=` never reaches the logs; neither does any header.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Any

from aiohttp import web

from armada import const

log = logging.getLogger("armada.access")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = web.RequestKey("request_id", str)
SANE_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{const.MAX_REQUEST_ID_LENGTH}}}")
CLIENT_CLOSED = 499


def request_id_of(request: web.BaseRequest) -> str:
    """The caller's X-Request-ID when it is sane (a proxy's id), else a new one."""
    request_id = request.get(REQUEST_ID)
    if request_id is None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request[REQUEST_ID] = request_id
    return request_id


async def add_request_id(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer carries the request id."""
    response.headers[REQUEST_ID_HEADER] = request_id_of(request)


@web.middleware
async def request_log_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    started = time.perf_counter()
    request_id = request_id_of(request)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    finally:
        duration_ms = (time.perf_counter() - started) * 1000
        log.info(
            "%s %s %d %.1fms id=%s", request.method, request.path, status, duration_ms,
            request_id,
            extra={"method": request.method, "path": request.path, "status": status,
                   "duration_ms": round(duration_ms, 3), "request_id": request_id,
                   "remote": request.remote},
        )
