"""The request timeout: an answer within ARMADA_REQUEST_TIMEOUT seconds, 503 if need be.

The handler is cancelled where it waits. A write already handed to the store is not
undone by that: the store commits it and runs its `then` (the broadcast) as usual, and
shutdown waits for such writes (`flush_writes`). A client that repeats a write after that
503 gets the stored record (creates are idempotent on their uuid).

One `asyncio.timeout` per request. A single timer sweeping every request in flight
(cancelling by hand, taken back with `Task.uncancel`) measured about 1.5% of a request's
CPU less, within the noise of `bench/compare.py`: not worth reaching below asyncio's
public API (docs/architecture.md, Below a library's public API).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from armada import const
from armada.errors import RequestTimeout, StoreUnavailable
from armada.keys import store_key

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = web.RequestKey("request_timeout", asyncio.Timeout)


def answer_started(request: web.Request) -> None:
    """Called by a handler that streams its answer, just before the first byte: from then
    on it runs as long as its client reads (a whole list of a million events)."""
    timeout = request.get(REQUEST_TIMEOUT)
    # Once expired, the cut is on its way: the answer ends with it.
    if timeout is not None and not timeout.expired():
        timeout.reschedule(None)


def timeout_middleware(limit: float) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(const.WEBSOCKET_PREFIX):
            return await handler(request)  # a subscription lasts as long as its client
        timeout = asyncio.timeout(limit)
        request[REQUEST_TIMEOUT] = timeout
        try:
            async with timeout:
                return await handler(request)
        except TimeoutError:
            if not timeout.expired():
                raise  # not ours: the handler's own
            raise RequestTimeout(
                f"no answer within {limit:g} s; a write may still be committed, "
                "so repeat it with the same uuid rather than a new one"
            ) from None

    return middleware


async def flush_writes(app: web.Application) -> None:
    """on_shutdown: let writes that outlived their request commit and broadcast before the
    subscribers are closed (a write the database failed counts as answered)."""
    store = app[store_key]
    try:
        async with asyncio.timeout(const.LATE_WRITES_DRAIN_SECONDS):
            await store.flush()
    except (TimeoutError, StoreUnavailable) as error:
        log.warning("shutdown: %d queued writes not confirmed before closing subscribers: %r",
                    store.pending_writes, error)
