"""Subscribers and fan-out: each numbered message is framed once; the messages of a flush
are written to every subscriber that takes them all as the same bytes, joined once, and
queued one by one to the others (filtered, or behind).

Fan-out never awaits a client: each subscriber has a queue bounded in messages and in
bytes, drained by its own writer task, and one whose queue overflows is disconnected.
Queued frames leave in one write per subscriber per flush, and under load flushes are
coalesced to one per WS_FLUSH_WINDOW_SECONDS. A subscriber that asked for grouped frames
(`grouped=true`) gets the messages of each write as one JSON array in one frame.
Where messages are numbered is `armada.stream.numbering`'s; this module only delivers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from aiohttp import WSCloseCode, web

from armada import const
from armada.private_api.aiohttp_frames import FrameSink
from armada.stream.filters import StreamFilter
from armada.stream.messages import RESYNC, Message, message_size
from armada.ws.outgoing import Flushed, Outgoing, grouped_frame

log = logging.getLogger(__name__)

EVERYTHING = StreamFilter()


class Writes:
    """Socket writes to subscribers, each carrying one or more messages (for /metrics)."""

    def __init__(self) -> None:
        self.count = 0


class Subscriber:
    """One connected WebSocket client.

    Broadcasting queues messages; the broadcaster then calls `flush` (see
    `Subscribers._schedule_flush` for when). While the socket keeps up, `flush` itself
    writes everything queued in one write of prebuilt frames, and the writer task sleeps;
    it wakes only to send the backlog, to wait for a backed-up socket to drain, or when
    frames must go through aiohttp (`FrameSink.of` answered None).
    """

    def __init__(self, ws: web.WebSocketResponse, name: str, max_pending: int,
                 abort: Callable[[], None], stream_filter: StreamFilter,
                 max_pending_bytes: int, writes: Writes, grouped: bool = False) -> None:
        self.ws = ws
        self.grouped = grouped
        self._writes = writes
        self.name = name
        self.filter = stream_filter
        self._everything = stream_filter == EVERYTHING
        self._abort = abort
        self._max_pending = max_pending
        self._max_pending_bytes = max_pending_bytes
        self._queue: deque[Outgoing] = deque()
        self.pending_bytes = 0  # message_size of what is queued
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

    def take(self, flushed: Flushed) -> int | None:
        """The messages of one flush that this subscriber takes: written at once, as the
        bytes shared with every subscriber in step, when it takes them all and its socket
        keeps up; else queued one by one. How many it took; None when its queue is full."""
        if (self._direct and not self._queue and self._everything and flushed.epoch is not None
                and self._after_sent(flushed.epoch, flushed.first_seq)):
            assert self._sink is not None
            try:
                self._sink.write([flushed.data(self.grouped)])
            except (ConnectionError, RuntimeError) as error:
                self._direct = False
                log.debug("subscriber %s went away: %s", self.name, error)
                return 0
            self._writes.count += 1
            self._epoch, self._seq = flushed.epoch, flushed.last.seq
            if self._sink.backed_up:
                self._direct = False
                self._wake()
            return len(flushed.items)
        taken = 0
        for outgoing in flushed.items:
            message = outgoing.message
            if self.takes(message):
                if not self.offer(outgoing, message_size(message)):
                    return None
                taken += 1
        if taken:
            self.flush()
        return taken

    def offer(self, outgoing: Outgoing, size: int) -> bool:
        """Queue a message the filter takes (`size`: its message_size); False when the
        queue is full. An empty queue takes any one message, however large."""
        if self._queue and self._full(size):
            # Queued in this turn of the loop is not unread: a socket that keeps up takes it.
            if self._direct:
                self.flush()
            if self._queue and self._full(size):
                return False
        self._queue.append(outgoing)
        self.pending_bytes += size
        return True

    def _full(self, size: int) -> bool:
        return (len(self._queue) >= self._max_pending
                or self.pending_bytes + size > self._max_pending_bytes)

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
        self._wake()

    def _wake(self) -> None:
        """The writer task takes over: the backlog, a backed-up socket, send_str."""
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _write(self, backlog: list[Message]) -> None:
        try:
            backlog = [message for message in backlog
                       if self.takes(message) and self._fresh(message)]
            if self.grouped and backlog:
                await self.ws.send_str(f"[{','.join(m.text for m in backlog)}]")
            else:
                for message in backlog:
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
                    message = self._queue.popleft().message
                    self.pending_bytes -= message_size(message)
                    if self._fresh(message):
                        self._writes.count += 1
                        await self.ws.send_str(f"[{message.text}]" if self.grouped
                                               else message.text)
                    continue
                self._wakeup = asyncio.get_running_loop().create_future()
                await self._wakeup
        except (ConnectionError, RuntimeError) as error:
            log.debug("subscriber %s went away: %s", self.name, error)

    def _write_queued(self) -> None:
        """Everything queued, as prebuilt frames, in one write to the socket."""
        assert self._sink is not None
        fresh = [item for item in self._queue if self._fresh(item.message)]
        self._queue.clear()
        self.pending_bytes = 0
        if fresh:
            self._writes.count += 1
            self._sink.write([grouped_frame(fresh)] if self.grouped
                             else [item.frame for item in fresh])

    def _fresh(self, message: Message) -> bool:
        """Not sent already nor covered by the resync that started a new epoch; counts it
        as sent."""
        if message.type != RESYNC and not self._after_sent(message.epoch, message.seq):
            return False
        self._epoch, self._seq = message.epoch, message.seq
        return True

    def _after_sent(self, epoch: str | None, seq: int) -> bool:
        """Whether a message numbered `seq` in `epoch` comes after the last one sent."""
        return self._epoch is None or (epoch == self._epoch and seq > self._seq)

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


class Subscribers:
    """Every connected subscriber of this process, and the fan-out to them."""

    def __init__(self, max_pending: int,
                 max_pending_bytes: int = const.WS_MAX_PENDING_BYTES) -> None:
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self._subscribers: dict[Subscriber, None] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._flush_due: asyncio.Handle | None = None  # the flush scheduled, if any
        self._flushed_at = float("-inf")  # loop time of the last flush
        self._unflushed: list[Outgoing] = []  # delivered since the last flush
        self.dropped = 0
        self.sent = 0  # messages queued to subscribers, for /metrics
        self.writes = Writes()

    def __len__(self) -> int:
        return len(self._subscribers)

    def add(self, ws: web.WebSocketResponse, name: str, abort: Callable[[], None],
            stream_filter: StreamFilter = EVERYTHING, grouped: bool = False) -> Subscriber:
        """Register a subscriber: every message delivered from now on is queued to it. Start
        it (`Subscriber.start`) with what it missed before; what both hold is sent once."""
        if self._unflushed:
            self._flush_now()  # what was delivered before it is not its
        subscriber = Subscriber(ws, name, self.max_pending, abort, stream_filter,
                                self.max_pending_bytes, self.writes, grouped)
        self._subscribers[subscriber] = None
        return subscriber

    def remove(self, subscriber: Subscriber) -> None:
        self._subscribers.pop(subscriber, None)

    def deliver(self, message: Message) -> None:
        """Hand a numbered message to the subscribers at the next flush; never waits."""
        if not self._subscribers:
            return  # one that connects later starts from its backlog
        self._unflushed.append(Outgoing(message))
        if self._flush_due is None:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        """One flush per loop iteration at most (messages broadcast together leave
        together), and under load one per window: a message that comes within
        WS_FLUSH_WINDOW_SECONDS of the last flush waits for the window's end with those that
        follow it, so each subscriber gets one write for all of them. A message on an idle
        stream leaves at once."""
        loop = asyncio.get_running_loop()
        due = self._flushed_at + const.WS_FLUSH_WINDOW_SECONDS
        self._flush_due = (loop.call_at(due, self._flush) if loop.time() < due
                           else loop.call_soon(self._flush))

    def _flush_now(self) -> None:
        """Flush before the window's end, the scheduled flush then not needed."""
        if self._flush_due is not None:
            self._flush_due.cancel()
        self._flush()

    def _flush(self) -> None:
        self._flush_due = None
        self._flushed_at = asyncio.get_running_loop().time()
        unflushed, self._unflushed = self._unflushed, []
        if not unflushed:
            return
        flushed = Flushed(unflushed)
        for subscriber in list(self._subscribers):
            taken = subscriber.take(flushed)
            if taken is None:
                self._drop(subscriber)
            else:
                self.sent += taken

    def _drop(self, subscriber: Subscriber) -> None:
        self.remove(subscriber)
        self.dropped += 1
        log.warning("dropping WebSocket subscriber %s: %d messages (%d bytes) not read, "
                    "closing with %d", subscriber.name, subscriber.pending,
                    subscriber.pending_bytes, const.WS_CLOSE_OVERFLOW)
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


# The app's subscribers (typed like the keys in armada/keys.py, which sits below this layer).
subscribers_key = web.AppKey("subscribers", Subscribers)
