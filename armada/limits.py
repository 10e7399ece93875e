"""The request timeout: an answer within ARMADA_REQUEST_TIMEOUT seconds, 503 if need be.

A read that runs late is cancelled. A write is not: cancelling it could not stop a
transaction already handed to the database, and would lose the broadcast of a write that
then commits. So the client gets its 503 on time while the write finishes in the
background and broadcasts as usual; shutdown waits for such writes. A client that repeats
a write after that 503 gets the stored record (creates are idempotent on their uuid).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from aiohttp import web

from armada import const
from armada.auth import WRITE_METHODS
from armada.errors import RequestTimeout
from armada.keys import config_key, detached_writes_key
from armada.security import WEBSOCKET_PREFIX

log = logging.getLogger(__name__)


@web.middleware
async def timeout_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith(WEBSOCKET_PREFIX):
        return await handler(request)  # a subscription lasts as long as its client
    limit = request.app[config_key].request_timeout
    if request.method not in WRITE_METHODS:
        # A late read is cancelled where it runs: it needs no task of its own.
        try:
            async with asyncio.timeout(limit):
                return await handler(request)
        except TimeoutError:
            raise _timed_out(limit) from None
    # A write runs in its own task, so that it can outlive its request. Waiting on a plain
    # future woken by the task or by one timer costs less than shield() plus timeout().
    loop = asyncio.get_running_loop()
    task = loop.create_task(handler(request))
    awake = loop.create_future()
    task.add_done_callback(partial(_wake, awake))
    timer = loop.call_later(limit, _wake, awake)
    try:
        await awake
    except asyncio.CancelledError:
        timer.cancel()
        _give_up(request, task)
        raise
    if task.done():
        timer.cancel()
        return task.result()
    _give_up(request, task)
    raise _timed_out(limit)


def _wake(awake: asyncio.Future[None], _task: Any = None) -> None:
    if not awake.done():
        awake.set_result(None)


def _timed_out(limit: float) -> RequestTimeout:
    return RequestTimeout(
        f"no answer within {limit:g} s; a write may still be committed, so repeat it "
        "with the same uuid rather than a new one"
    )


def _give_up(request: web.Request, task: asyncio.Future[Any]) -> None:
    if task.done():
        return
    detached = request.app[detached_writes_key]
    detached.add(task)
    description = f"{request.method} {request.path}"
    task.add_done_callback(lambda done: _finished(description, done, detached))


def _finished(description: str, task: asyncio.Future[Any], detached: set[Any]) -> None:
    detached.discard(task)
    if task.cancelled():
        return
    error = task.exception()
    status = getattr(task.result(), "status", None) if error is None else type(error).__name__
    log.info("%s finished after its request timed out: %s", description, status)


async def drain_detached_writes(app: web.Application) -> None:
    """on_shutdown: let writes that outlived their request commit and broadcast."""
    pending = list(app[detached_writes_key])
    if pending:
        await asyncio.wait(pending, timeout=const.DETACHED_WRITES_DRAIN_SECONDS)
