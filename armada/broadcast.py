"""Subscribers and fan-out: each message is numbered and serialised once, then queued to
every subscriber whose filter takes it.

Broadcasting never awaits a client: each subscriber has a bounded queue drained by its
own writer task, and one whose queue overflows is disconnected. Numbering is this
process's own, or, with a Redis relay attached, the deployment's (the relay numbers each
mutation in Redis and hands every replica the result through `deliver`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import WSCloseCode, web

from armada import const
from armada.stream import (
    RESYNC,
    Cursor,
    Message,
    Owners,
    Ring,
    StreamFilter,
    compose,
    concerns,
    message_body,
    new_epoch,
    now_text,
    resync_message,
    resync_reason,
)

log = logging.getLogger(__name__)

EVERYTHING = StreamFilter()


class Relay(Protocol):
    """Where messages are numbered when several processes share one stream."""

    def publish(self, message_type: str, run_uuid: str | None, job_uuid: str | None,
                body: str) -> None: ...

    async def backlog(self, cursor: Cursor | None) -> list[Message]: ...


class Subscriber:
    """One connected WebSocket client."""

    def __init__(self, ws: web.WebSocketResponse, name: str, max_pending: int,
                 abort: Callable[[], None], stream_filter: StreamFilter) -> None:
        self.ws = ws
        self.name = name
        self.filter = stream_filter
        self._abort = abort
        self._queue: asyncio.Queue[Message] = asyncio.Queue(max_pending)
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        # The last message sent: what arrives again (replay overlapping live) is skipped.
        self._epoch: str | None = None
        self._seq = 0

    def offer(self, message: Message) -> bool:
        """Queue a message if the filter takes it; False when the queue is full."""
        if not self.filter.accepts(message):
            return True
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            return False
        return True

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def start(self, backlog: list[Message]) -> None:
        """Send `backlog` (a replay, or a resync), then whatever is queued, as it comes."""
        if not self._closed:
            self._writer = asyncio.create_task(self._write(backlog), name=f"ws-writer {self.name}")

    async def _write(self, backlog: list[Message]) -> None:
        try:
            for message in backlog:
                if self.filter.accepts(message):
                    await self._send(message)
            while True:
                await self._send(await self._queue.get())
        except (ConnectionError, RuntimeError) as error:
            log.debug("subscriber %s went away: %s", self.name, error)

    async def _send(self, message: Message) -> None:
        if message.type != RESYNC and self._epoch is not None and (
                message.epoch != self._epoch or message.seq <= self._seq):
            return  # sent already, or covered by the resync that started a new epoch
        self._epoch, self._seq = message.epoch, message.seq
        await self.ws.send_str(message.text)

    async def close(self, code: int, message: str) -> None:
        """Stop writing and close; a peer that does not take the close frame is cut."""
        self._closed = True
        if self._writer is not None:
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
    def __init__(self, max_pending: int, buffer_size: int = const.WS_BUFFER_MESSAGES) -> None:
        self.max_pending = max_pending
        self.epoch = new_epoch()
        self.seq = 0
        self.owners = Owners()
        self.relay: Relay | None = None
        self._ring = Ring(buffer_size)
        self._subscribers: dict[Subscriber, None] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.dropped = 0
        self.sent = 0  # messages queued to subscribers, for /metrics

    def __len__(self) -> int:
        return len(self._subscribers)

    async def subscribe(self, ws: web.WebSocketResponse, name: str, abort: Callable[[], None],
                        stream_filter: StreamFilter = EVERYTHING,
                        cursor: Cursor | None = None) -> Subscriber:
        """Register a subscriber, then start it with what it missed since `cursor`.

        Registered first, so every later message is queued to it; what the backlog also
        holds is sent once. Without a relay the backlog is taken in the same step as the
        registration, so nothing can be committed in between.
        """
        subscriber = Subscriber(ws, name, self.max_pending, abort, stream_filter)
        self._subscribers[subscriber] = None
        if self.relay is None:
            backlog = self.backlog(cursor)
        else:
            try:
                backlog = await self.relay.backlog(cursor)
            except BaseException:
                self.unsubscribe(subscriber)
                raise
        subscriber.start(backlog)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.pop(subscriber, None)

    def backlog(self, cursor: Cursor | None) -> list[Message]:
        """What a client resuming from `cursor` missed, from the ring; or a resync."""
        if cursor is None:
            return []
        reason = resync_reason(cursor, self.epoch, self.seq, self._ring.oldest(self.seq))
        if reason is not None:
            return [resync_message(self.seq, self.epoch, reason, cursor.since)]
        return self._ring.after(cursor.since)

    def broadcast(self, message_type: str, data: Any, *, run_uuid: str | None = None,
                  job_uuid: str | None = None) -> None:
        """Send `{"seq", "epoch", "ts", "type", "data"}` to every subscriber; never waits.

        `run_uuid`/`job_uuid` say which run and job the message is about when `data`
        does not (filters need them).
        """
        run_uuid, job_uuid = concerns(message_type, data, run_uuid, job_uuid, self.owners)
        self.owners.learn(message_type, run_uuid, job_uuid, data)
        body = message_body(message_type, data, now_text())
        if self.relay is not None:
            self.relay.publish(message_type, run_uuid, job_uuid, body)
            return
        self.seq += 1
        message = Message(self.seq, self.epoch, message_type, run_uuid, job_uuid,
                          compose(self.seq, self.epoch, body))
        self._ring.append(message)
        self._fan_out(message)

    def deliver(self, message: Message) -> None:
        """A message numbered by the relay (this replica's or another's)."""
        self.epoch, self.seq = message.epoch, message.seq
        self.owners.learn(message.type, message.run_uuid, message.job_uuid, None)
        self._fan_out(message)

    def resync_all(self, reason: str) -> None:
        """Tell every subscriber to reload: messages may have been lost (Redis went away)."""
        self._fan_out(resync_message(self.seq, self.epoch, reason, None))

    def _fan_out(self, message: Message) -> None:
        for subscriber in list(self._subscribers):
            if not subscriber.offer(message):
                self._drop(subscriber)
            elif subscriber.filter.accepts(message):
                self.sent += 1

    def _drop(self, subscriber: Subscriber) -> None:
        self.unsubscribe(subscriber)
        self.dropped += 1
        log.warning("dropping WebSocket subscriber %s: %d messages not read, closing with %d",
                    subscriber.name, subscriber.pending, const.WS_CLOSE_OVERFLOW)
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
