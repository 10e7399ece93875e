"""The cap on open HTTP connections (`ARMADA_MAX_CONNECTIONS`).

Each accepted connection gets a gate, the protocol asyncio talks to: when the connection
is made, the gate either hands it to aiohttp's request handler (made by `web.Server`, the
protocol factory of aiohttp's low-level server) or, with the cap reached, answers 503 with
the service's JSON error and closes it, having read nothing. Deciding when the connection
is made, not when the gate is made, counts exactly the connections that exist: asyncio
makes the protocols of a burst of accepts before any of them is connected.

One warning when the cap is reached, one line when the open connections are back under
nine tenths of it: one pair per episode, however many connections are refused meanwhile.
The time allowed for a request head is aiohttp's `keepalive_timeout` (`runner_settings`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from aiohttp import web

from armada import const
from armada.config import Config
from armada.jsonutil import dumps

log = logging.getLogger(__name__)


def runner_settings(config: Config) -> dict[str, Any]:
    """What `web.AppRunner` passes to each of aiohttp's request handlers.

    aiohttp (3.14) starts its keep-alive timer when a connection opens and again when an
    answer ends, and closes the connection when it fires before a complete request head
    has arrived, however many bytes of one came: the header timeout, which also closes
    an idle keep-alive connection after as long.
    """
    return {"keepalive_timeout": config.header_timeout}


def refusal(limit: int) -> bytes:
    """The whole HTTP answer to a connection beyond the cap."""
    body = dumps({"error": "too_many_connections",
                  "detail": f"the service has {limit} connections open, its limit "
                            "(ARMADA_MAX_CONNECTIONS); retry shortly"}).encode()
    return (b"HTTP/1.1 503 Service Unavailable\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n"
            b"Retry-After: %d\r\n"
            b"X-Content-Type-Options: nosniff\r\n"
            b"Connection: close\r\n\r\n" % (len(body), const.RETRY_AFTER_SECONDS)) + body


class ConnectionLimit:
    """A protocol factory for `loop.create_server`: aiohttp's `server` for at most `limit`
    open connections, a 503 for the others."""

    def __init__(self, server: web.Server, limit: int) -> None:
        self._server = server
        self.limit = limit
        self._low_water = limit - max(1, limit // 10)
        self._refusal = refusal(limit)
        self.open = 0
        self.refused = 0  # in this episode
        self._refusing = False
        self._lingering = 0

    def __call__(self) -> _Gate:
        return _Gate(self)

    def admit(self) -> asyncio.Protocol | None:
        """aiohttp's handler for a connection just made, or None: refuse it."""
        if self.open < self.limit:
            self.open += 1
            return self._server()
        if not self._refusing:
            self._refusing = True
            log.warning("connection limit reached: %d connections open "
                        "(ARMADA_MAX_CONNECTIONS=%d); new connections get 503 until some "
                        "close", self.open, self.limit)
        self.refused += 1
        return None

    def closed(self) -> None:
        self.open -= 1
        if self._refusing and self.open <= self._low_water:
            log.info("connections back under the limit: %d open, %d refused meanwhile",
                     self.open, self.refused)
            self._refusing = False
            self.refused = 0

    def refuse(self, transport: asyncio.Transport) -> asyncio.TimerHandle | None:
        """Answer 503 and close; give the client a moment to read it (closing a socket
        with unread bytes resets it, and the answer may be lost with them), unless as
        many refused connections already linger."""
        transport.write(self._refusal)
        if self._lingering >= self.limit or not transport.can_write_eof():
            transport.close()
            return None
        transport.write_eof()
        self._lingering += 1
        return asyncio.get_running_loop().call_later(
            const.CONNECTION_REFUSAL_LINGER_SECONDS, transport.abort)

    def stopped_lingering(self) -> None:
        self._lingering -= 1


class _Gate(asyncio.Protocol):
    """The protocol of one accepted connection: aiohttp's handler behind it, or a refusal."""

    __slots__ = ("_handler", "_limit", "_linger")

    def __init__(self, limit: ConnectionLimit) -> None:
        self._limit = limit
        self._handler: Any = None
        self._linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._handler = self._limit.admit()
        if self._handler is not None:
            self._handler.connection_made(transport)
            return
        # A stream transport, though uvloop's is not a subclass of asyncio.Transport.
        self._linger = self._limit.refuse(cast(asyncio.Transport, transport))

    def data_received(self, data: bytes) -> None:
        if self._handler is not None:
            self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        if self._handler is not None:
            return self._handler.eof_received()
        return None  # a refused connection: close it

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handler is not None:
            self._limit.closed()
            self._handler.connection_lost(exc)
        elif self._linger is not None:
            self._linger.cancel()
            self._limit.stopped_lingering()
