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
from armada.keys import store_key

log = logging.getLogger(__name__)


class Deadlines:
    """The requests in flight and when each must be answered; one timer cuts the late ones.

    One timer for all, not one per request: `asyncio.timeout` costs 4.6 µs a request (a
    timer in the loop's heap, then its cancel), an entry here 0.5 µs (README, Performance).
    The timer ticks every `tick` seconds while requests are in flight; a request is cut at
    the first tick after `limit - tick`, so between `limit - tick` and `limit` seconds.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.tick = min(const.DEADLINE_TICK_SECONDS, limit / 10)
        self._due: dict[asyncio.Task[Any], float] = {}
        self._cut: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, task: asyncio.Task[Any]) -> None:
        loop = task.get_loop()
        self._due[task] = loop.time() + self.limit - self.tick
        if self._timer is None:
            self._timer = loop.call_later(self.tick, self._sweep, loop)

    def forget(self, task: asyncio.Task[Any]) -> bool:
        """Stop watching `task` (again is harmless). When it was cut, its cancellation is
        taken back, and the answer is whether that was the only one (as `asyncio.timeout`
        decides whether a cancellation becomes its TimeoutError)."""
        if self._due.pop(task, None) is None or task not in self._cut:
            return False
        self._cut.discard(task)
        return task.uncancel() == 0

    def release(self, task: asyncio.Task[Any]) -> None:
        """Stop watching `task`, whose answer has begun: a 503 can no longer replace it.
        A task already cut keeps its cut (its cancellation is on its way)."""
        if task not in self._cut:
            self._due.pop(task, None)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task, due in self._due.items():
            if due <= now and task not in self._cut:
                self._cut.add(task)
                task.cancel()
        self._timer = loop.call_later(self.tick, self._sweep, loop) if self._due else None


DEADLINES = web.RequestKey("deadlines", Deadlines)


def answer_started(request: web.Request) -> None:
    """Called by a handler that streams its answer, just before the first byte: from then
    on it runs as long as its client reads (a whole list of a million events)."""
    deadlines, task = request.get(DEADLINES), asyncio.current_task()
    if deadlines is not None and task is not None:
        deadlines.release(task)


def timeout_middleware(deadlines: Deadlines) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(const.WEBSOCKET_PREFIX):
            return await handler(request)  # a subscription lasts as long as its client
        task = asyncio.current_task()
        assert task is not None
        deadlines.watch(task)
        request[DEADLINES] = deadlines
        try:
            return await handler(request)
        except asyncio.CancelledError:
            if deadlines.forget(task):
                raise RequestTimeout(
                    f"no answer within {deadlines.limit:g} s; a write may still be committed, "
                    "so repeat it with the same uuid rather than a new one"
                ) from None
            raise  # not ours: the client went away, or shutdown
        finally:
            deadlines.forget(task)

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
