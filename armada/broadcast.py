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
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import WSCloseCode, web

from armada import const
from armada.frames import FrameSink
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
    """One connected WebSocket client.

    Broadcasting queues messages; the broadcaster then calls `flush` once per loop
    iteration. While the socket keeps up, `flush` itself writes everything queued in one
    write of prebuilt frames, and the writer task sleeps; it wakes only to send the
    backlog, to wait for a backed-up socket to drain, or when frames must go through
    aiohttp (`FrameSink.of` answered None).
    """

    def __init__(self, ws: web.WebSocketResponse, name: str, max_pending: int,
                 abort: Callable[[], None], stream_filter: StreamFilter) -> None:
        self.ws = ws
        self.name = name
        self.filter = stream_filter
        self._everything = stream_filter == EVERYTHING
        self._abort = abort
        self._max_pending = max_pending
        self._queue: deque[Message] = deque()
        self._sink = FrameSink.of(ws)
        self._direct = False  # flush writes itself: the writer task is idle
        self._wakeup: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        # The last message sent: what arrives again (replay overlapping live) is skipped.
        self._epoch: str | None = None
        self._seq = 0

    def takes(self, message: Message) -> bool:
        return self._everything or self.filter.accepts(message)

    def offer(self, message: Message) -> bool:
        """Queue a message the filter takes; False when the queue is full."""
        if len(self._queue) >= self._max_pending:
            return False
        self._queue.append(message)
        return True

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self, backlog: list[Message]) -> None:
        """Send `backlog` (a replay, or a resync), then whatever is queued, as it comes."""
        if not self._closed:
            self._writer = asyncio.create_task(self._write(backlog), name=f"ws-writer {self.name}")

    def flush(self) -> None:
        """Write what is queued now if the writer is idle and the socket keeps up; else
        leave it to the writer task."""
        if self._direct:
            try:
                self._write_queued()
            except (ConnectionError, RuntimeError) as error:
                self._direct = False
                log.debug("subscriber %s went away: %s", self.name, error)
                return
            if self._sink is not None and not self._sink.backed_up:
                return
            self._direct = False
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _write(self, backlog: list[Message]) -> None:
        try:
            for message in backlog:
                if self.takes(message) and self._fresh(message):
                    await self.ws.send_str(message.text)
            sink = self._sink
            while not self._closed:
                if sink is not None:
                    await sink.drain()
                    if self._queue:
                        self._write_queued()
                        continue
                    self._direct = True
                elif self._queue:
                    message = self._queue.popleft()
                    if self._fresh(message):
                        await self.ws.send_str(message.text)
                    continue
                self._wakeup = asyncio.get_running_loop().create_future()
                await self._wakeup
        except (ConnectionError, RuntimeError) as error:
            log.debug("subscriber %s went away: %s", self.name, error)

    def _write_queued(self) -> None:
        """Everything queued, as prebuilt frames, in one write to the socket."""
        assert self._sink is not None
        frames = [message.frame for message in self._queue if self._fresh(message)]
        self._queue.clear()
        if frames:
            self._sink.write(frames)

    def _fresh(self, message: Message) -> bool:
        """Not sent already nor covered by the resync that started a new epoch; counts it
        as sent."""
        if message.type != RESYNC and self._epoch is not None and (
                message.epoch != self._epoch or message.seq <= self._seq):
            return False
        self._epoch, self._seq = message.epoch, message.seq
        return True

    async def close(self, code: int, message: str) -> None:
        """Stop writing and close; a peer that does not take the close frame is cut."""
        self._closed = True
        self._direct = False
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
        self._flush_scheduled = False
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

    def broadcast_resync(self, reason: str) -> None:
        """Tell every subscriber to reload through the stream itself: numbered like a change,
        so that it reaches every replica's subscribers (through the relay) and every client
        that resumes from before it."""
        self.broadcast(RESYNC, {"reason": reason, "since": None})

    def _fan_out(self, message: Message) -> None:
        queued = 0
        for subscriber in list(self._subscribers):
            if not subscriber.takes(message):
                continue
            if subscriber.offer(message):
                queued += 1
            else:
                self._drop(subscriber)
        self.sent += queued
        if queued and not self._flush_scheduled:
            # One flush per loop iteration: messages broadcast together leave together.
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        for subscriber in self._subscribers:
            if subscriber.pending:
                subscriber.flush()

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
