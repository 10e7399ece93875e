"""Below aiohttp's public API: a request that aiohttp's parser refuses (a request line or a
header too long, too many headers, bytes that are not HTTP) gets the service's JSON error,
414, 431 or 400, and nothing of what it sent.

Why: aiohttp answers such a request itself, before any middleware or response hook, with a
text/plain 400 that repeats up to 100 of the bytes sent (`RequestHandler.handle_error`),
and logs a traceback at ERROR for each one. No public API reaches that answer: the
handler arguments of `web.Application`/`web.AppRunner` configure the parser's limits, not
what a refusal looks like. Here each connection's handler is `JsonBadRequestHandler`, whose
`handle_error` hands a parser error, as a status and a detail, to the service's own answer
(`armada.http.middlewares.refused_before_reading`: the JSON error, the security headers, a
request id, one log line without a traceback); every other error still goes to aiohttp's.

How it is installed: `answer_bad_requests_in_json(app, answer)` (called by `init_app`) wraps the
app's `_make_handler`, the method through which `web.AppRunner` makes its `web.Server`
(`armada serve`'s runner and the tests' `TestServer` both), so that the server it makes is
a `JsonBadRequestServer`, whose connections get `JsonBadRequestHandler`. It also sets the
parser's limits, unless the runner's arguments set them (const.MAX_REQUEST_LINE_BYTES,
MAX_HEADER_BYTES, MAX_HEADERS); a too-long line is told apart by the limit it exceeded.

What it relies on, checked by `tests/test_aiohttp_bad_request.py` (over raw sockets, against
both the test server and a real `armada serve`) on the aiohttp of `CHECKED_WITH`: that
`AppRunner` calls `Application._make_handler(loop=..., **kwargs)` for its server; that
`web.Server.__call__` makes each connection's handler as `RequestHandler(server, loop=
server._loop, **server._kwargs)`; that a request the parser refused reaches
`RequestHandler.handle_error(request, 400, exc)` with the parser's `HttpProcessingError`;
that `LineTooLong.args[1]` is the limit exceeded, and "Too many headers received" the text
of a head with too many headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMethod,
    BadStatusLine,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)

from armada import const

# The service's answer to a request its parser refused: (request, status, detail).
Answer = Callable[[web.BaseRequest, int, str], web.StreamResponse]

# The parser's limits, as web.AppRunner's arguments name them.
PARSER_LIMITS = {"max_line_size": const.MAX_REQUEST_LINE_BYTES,
                 "max_field_size": const.MAX_HEADER_BYTES,
                 "max_headers": const.MAX_HEADERS}
TOO_MANY_HEADERS = "Too many headers received"  # aiohttp's text (no class of its own)
# What the answer says of other refusals: aiohttp's own texts may carry the bytes sent.
MALFORMED = (
    (BadHttpMethod, "an unknown or malformed method (or HTTPS sent to this HTTP port)"),
    (InvalidURLError, "a malformed URL"),
    (BadStatusLine, "a malformed request line"),
    (InvalidHeader, "a malformed header"),
)


class JsonBadRequestHandler(web.RequestHandler):
    """aiohttp's handler of one connection, answering a request its parser refused in JSON."""

    __slots__ = ("answer",)

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None
                     ) -> web.StreamResponse:
        if status != 400 or not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        response = self.answer(request, *self.refusal(exc))
        # The connection's state is unknown after a message the parser could not read.
        response.force_close()
        return response

    def refusal(self, exc: HttpProcessingError) -> tuple[int, str]:
        """The status and the detail of the answer to a head the parser refused."""
        if isinstance(exc, LineTooLong):
            if len(exc.args) > 1 and exc.args[1] == self.max_field_size:
                return 431, f"a header is longer than {self.max_field_size} bytes"
            return 414, f"the request line (the URL) is longer than {self.max_line_size} bytes"
        if getattr(exc, "message", None) == TOO_MANY_HEADERS:
            return 431, f"more than {self.max_headers} headers"
        for kind, what in MALFORMED:
            if isinstance(exc, kind):
                return 400, f"not an HTTP request this service reads: {what}"
        return 400, "not an HTTP request this service reads"


class JsonBadRequestServer(web.Server):
    """aiohttp's low-level server whose connections get `JsonBadRequestHandler`."""

    answer: Answer

    def __call__(self) -> web.RequestHandler:
        handler = JsonBadRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.answer = self.answer
        return handler


def answer_bad_requests_in_json(app: web.Application, answer: Answer) -> None:
    """Make the server that a runner makes for `app` a `JsonBadRequestServer` whose refusals
    `answer` makes, with the service's parser limits unless the runner's arguments set
    others."""
    make_handler = app._make_handler

    def make_server(**kwargs: Any) -> web.Server:
        server = make_handler(**{**PARSER_LIMITS, **kwargs})
        # The same server, its class narrowed: it makes the connections' handlers.
        server.__class__ = JsonBadRequestServer
        server.answer = answer
        return server

    app._make_handler = make_server  # type: ignore[method-assign]
