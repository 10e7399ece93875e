"""Numbering: where each message gets its `seq` in an epoch, and what resume replays.

Two implementations of one interface: `LocalNumbering`, this process's own (a counter and
a ring in memory), and `armada.stream.redis_numbering.RedisNumbering`, the deployment's
(a counter and a ring in Redis, shared by every replica). Either hands each numbered
message, in order, to one `deliver` callable: the subscribers' fan-out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from armada import const
from armada.stream.messages import (
    Message,
    ResumeCursor,
    Ring,
    compose,
    new_epoch,
    resync_message,
    resync_reason,
)

Deliver = Callable[[Message], None]


class Numbering(Protocol):
    """Numbers messages and hands them to `deliver`; answers what a cursor missed."""

    epoch: str
    seq: int

    def publish(self, message_type: str, run_uuid: str | None, job_uuid: str | None,
                body: str) -> None:
        """Number one message (its `body` from `messages.message_body`); never waits."""

    async def backlog(self, cursor: ResumeCursor | None) -> list[Message]:
        """What a client resuming from `cursor` missed; or a resync saying why it cannot."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalNumbering:
    """This process's numbering: a new epoch per start, the last `buffer_size` messages
    within `buffer_bytes`."""

    def __init__(self, buffer_size: int, deliver: Deliver, *,
                 buffer_bytes: int = const.WS_BUFFER_BYTES) -> None:
        self.epoch = new_epoch()
        self.seq = 0
        self._ring = Ring(buffer_size, buffer_bytes)
        self._deliver = deliver

    def publish(self, message_type: str, run_uuid: str | None, job_uuid: str | None,
                body: str) -> None:
        self.seq += 1
        message = Message(self.seq, self.epoch, message_type, run_uuid, job_uuid,
                          compose(self.seq, self.epoch, body))
        self._ring.append(message)
        self._deliver(message)

    async def backlog(self, cursor: ResumeCursor | None) -> list[Message]:
        # No await before the answer: a subscriber registered just before gets no gap.
        if cursor is None:
            return []
        reason = resync_reason(cursor, self.epoch, self.seq, self._ring.oldest(self.seq))
        if reason is not None:
            return [resync_message(self.seq, self.epoch, reason, cursor.since)]
        return self._ring.after(cursor.since)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
