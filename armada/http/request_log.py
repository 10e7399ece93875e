"""One log line and the HTTP metrics per request (method, path, status, duration, request
id, and for an error its code), and X-Request-ID; written by the one middleware
(middlewares.py) once the request is answered. Probes and metrics scrapes are logged at
DEBUG: they come every few seconds and say nothing.

Replaces aiohttp's access log; one call observes for both, as both need the final status
and the duration. The path is logged without its query string, so a
WebSocket `?token=` never reaches the logs; neither does any header.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time

from aiohttp import web

from armada import const
from armada.metrics import Metrics, route_label

log = logging.getLogger("armada.access")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = web.RequestKey("request_id", str)
SANE_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{const.MAX_REQUEST_ID_LENGTH}}}")
QUIET_PATHS = frozenset(variant for path in (const.HEALTH_PATH, const.READY_PATH,
                                             const.METRICS_PATH) for variant in (path, path + "/"))


def request_id_of(request: web.BaseRequest) -> str:
    """The caller's X-Request-ID when it is sane (a proxy's id), else a new one."""
    request_id = request.get(REQUEST_ID)
    if request_id is None:
        incoming = request.headers.get(REQUEST_ID_HEADER)
        request_id = incoming if incoming is not None and SANE_REQUEST_ID.fullmatch(incoming) \
            else _new_request_id()
        request[REQUEST_ID] = request_id
    return request_id


# 128 random bits as 32 hex digits, like uuid4().hex, from a generator seeded once from the
# OS: unique in practice and telling nothing about other requests, without the system call
# per request that os.urandom costs. Ids are not secrets.
_ids = random.Random(os.urandom(32))


def _new_request_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


def add_request_id(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Every answer carries the request id (app.py's response hook)."""
    response.headers[REQUEST_ID_HEADER] = request_id_of(request)


def log_request(metrics: Metrics, request: web.Request, status: int, started: float,
                request_id: str, error_code: str | None) -> None:
    """The request's metrics and its log line (probes and scrapes at DEBUG), once it is
    answered; `started` is its time.perf_counter() on arrival."""
    seconds = time.perf_counter() - started
    metrics.observe_request(route_label(request), request.method, status, seconds)
    level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
    if log.isEnabledFor(level):
        _log_line(level, request, status, seconds * 1000, request_id, error_code)


def _log_line(level: int, request: web.Request, status: int, duration_ms: float,
              request_id: str, error_code: str | None) -> None:
    extra = {"method": request.method, "path": request.path, "status": status,
             "duration_ms": round(duration_ms, 3), "request_id": request_id,
             "remote": request.remote}
    if error_code is None:
        log.log(level, "%s %s %d %.1fms id=%s", request.method, request.path, status,
                duration_ms, request_id, extra=extra)
    else:
        extra["error"] = error_code
        log.log(level, "%s %s %d %.1fms id=%s error=%s", request.method, request.path, status,
                duration_ms, request_id, error_code, extra=extra)


def log_refused(request: web.BaseRequest, status: int, detail: str) -> None:
    """The line of a request aiohttp's parser refused (no handler, no metrics)."""
    log.info("refused before reading, from %s: %d %s id=%s", request.remote, status, detail,
             request_id_of(request),
             extra={"status": status, "remote": request.remote,
                    "request_id": request_id_of(request)})
