"""Subscribers and fan-out: each message is serialised once and queued to every subscriber.

Broadcasting never awaits a client: each subscriber has a bounded queue drained by its
own writer task, and one whose queue overflows is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, web

from armada import const
from armada.jsonutil import dumps

log = logging.getLogger(__name__)


class Subscriber:
    """One connected WebSocket client."""

    def __init__(self, ws: web.WebSocketResponse, name: str, max_pending: int,
                 abort: Callable[[], None]) -> None:
        self.ws = ws
        self.name = name
        self._abort = abort
        self._queue: asyncio.Queue[str] = asyncio.Queue(max_pending)
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer {name}")

    def offer(self, text: str) -> bool:
        """Queue a message; False when the queue is full."""
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def _write(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError) as error:
                log.debug("subscriber %s went away: %s", self.name, error)
                return

    async def close(self, code: int, message: str) -> None:
        """Stop writing and close; a peer that does not take the close frame is cut."""
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        if self.ws.closed:
            return
        try:
            async with asyncio.timeout(const.WS_CLOSE_TIMEOUT_SECONDS):
                await self.ws.close(code=code, message=message.encode())
        except (TimeoutError, ConnectionError, RuntimeError):
            self._abort()


class Broadcaster:
    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self._subscribers: dict[Subscriber, None] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self, ws: web.WebSocketResponse, name: str,
                  abort: Callable[[], None]) -> Subscriber:
        subscriber = Subscriber(ws, name, self.max_pending, abort)
        self._subscribers[subscriber] = None
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.pop(subscriber, None)

    def broadcast(self, message_type: str, data: Any) -> None:
        """Queue `{"type", "data"}` to every subscriber; never waits for any of them."""
        text = dumps({"type": message_type, "data": data})
        for subscriber in list(self._subscribers):
            if not subscriber.offer(text):
                self._drop(subscriber)

    def _drop(self, subscriber: Subscriber) -> None:
        self.unsubscribe(subscriber)
        self.dropped += 1
        log.warning("dropping WebSocket subscriber %s: %d messages not read",
                    subscriber.name, subscriber.pending)
        task = asyncio.create_task(
            subscriber.close(const.WS_CLOSE_OVERFLOW, "too many unread messages")
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close every subscriber with 1001 (going away), at shutdown."""
        subscribers = list(self._subscribers)
        self._subscribers.clear()
        await asyncio.gather(
            *(s.close(WSCloseCode.GOING_AWAY, "server shutting down") for s in subscribers),
            *self._closing,
            return_exceptions=True,
        )
