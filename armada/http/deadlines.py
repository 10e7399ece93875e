"""The request timeout: an answer within ARMADA_REQUEST_TIMEOUT seconds, 503 if need be.

The handler is cancelled where it waits. A write already handed to the store is not
undone by that: the store commits it and runs its `then` (the broadcast) as usual, and
shutdown waits for such writes (`flush_writes`). A client that repeats a write after that
503 gets the stored record (creates are idempotent on their uuid).

One timer for every request in flight (`Deadlines`), not one `asyncio.timeout` each: a
request then costs a dict entry instead of a timer armed and cancelled, 25k fewer
instructions of about 820k (`bench/instructions.py`). The cut is the task's own
cancellation, told apart from any other by `Task.uncancel`, as `asyncio.timeout` does.
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
    """The requests in flight and when each must be answered, swept by one timer.

    Every request gets the same limit, so the dict's order (insertion) is the order of the
    deadlines: a sweep cuts from its start and stops at the first one still to come."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._due: dict[asyncio.Task[Any], float] = {}
        self._cut: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, task: asyncio.Task[Any]) -> None:
        """`task` must be answered within the limit from now."""
        loop = task.get_loop()
        deadline = loop.time() + self.limit
        self._due[task] = deadline
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._sweep)

    def release(self, task: asyncio.Task[Any]) -> None:
        """No deadline for `task` from now on (its answer began, or it ended)."""
        self._due.pop(task, None)

    def was_cut(self, task: asyncio.Task[Any]) -> bool:
        """Whether the deadline cancelled `task` (asked once: it forgets the cut)."""
        if task in self._cut:
            self._cut.discard(task)
            return True
        return False

    def bound(self) -> Deadline:
        """The deadline of the request the current task handles, from now: a context
        manager around the handler's await (Deadline)."""
        task = asyncio.current_task()
        assert task is not None
        self.watch(task)
        return Deadline(self, task)

    def _sweep(self) -> None:
        self._timer = None
        due = self._due
        now = None
        while due:
            task, deadline = next(iter(due.items()))
            if now is None:
                now = task.get_loop().time()
            if deadline > now:
                self._timer = task.get_loop().call_at(deadline, self._sweep)
                return
            del due[task]
            if not task.done():
                self._cut.add(task)
                task.cancel()


class Deadline:
    """One request's deadline around its handler: the cut becomes RequestTimeout (a 503),
    unless another cancellation is pending too; a handler that caught the cut and answered
    anyway is answered, the cut taken back."""

    __slots__ = ("_deadlines", "_task")

    def __init__(self, deadlines: Deadlines, task: asyncio.Task[Any]) -> None:
        self._deadlines = deadlines
        self._task = task

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: Any) -> None:
        deadlines = self._deadlines
        deadlines.release(self._task)
        if deadlines.was_cut(self._task) and self._task.uncancel() == 0 \
                and kind is asyncio.CancelledError:
            raise RequestTimeout(
                f"no answer within {deadlines.limit:g} s; a write may still be committed, "
                "so repeat it with the same uuid rather than a new one"
            ) from None


deadlines_key = web.AppKey("deadlines", Deadlines)


def answer_started(request: web.Request) -> None:
    """Called by a handler that streams its answer, just before the first byte: from then
    on it runs as long as its client reads (a whole list of a million events)."""
    task = asyncio.current_task()
    if task is not None:
        # Once cut, the cut is on its way: the answer ends with it.
        request.app[deadlines_key].release(task)


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
