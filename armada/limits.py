"""The request timeout: an answer within ARMADA_REQUEST_TIMEOUT seconds, 503 if need be.

The handler is cancelled where it waits. A write already handed to the store is not
undone by that: the store commits it and runs its `then` (the broadcast) as usual, and
shutdown waits for such writes (`flush_writes`). A client that repeats a write after that
503 gets the stored record (creates are idempotent on their uuid).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from armada import const
from armada.errors import RequestTimeout, StoreUnavailable
from armada.keys import config_key, store_key

log = logging.getLogger(__name__)


@web.middleware
async def timeout_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith(const.WEBSOCKET_PREFIX):
        return await handler(request)  # a subscription lasts as long as its client
    limit = request.app[config_key].request_timeout
    try:
        async with asyncio.timeout(limit):
            return await handler(request)
    except TimeoutError:
        raise RequestTimeout(
            f"no answer within {limit:g} s; a write may still be committed, so repeat it "
            "with the same uuid rather than a new one"
        ) from None


async def flush_writes(app: web.Application) -> None:
    """on_shutdown: let writes that outlived their request commit and broadcast before the
    subscribers are closed."""
    try:
        async with asyncio.timeout(const.LATE_WRITES_DRAIN_SECONDS):
            await app[store_key].flush()
    except (TimeoutError, StoreUnavailable) as error:
        log.warning("shutdown: queued writes not confirmed before closing subscribers: %r",
                    error)
