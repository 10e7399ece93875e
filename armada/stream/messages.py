"""What the live stream carries, apart from how it is sent.

Every message is `{"seq", "epoch", "ts", "type", "data"}`: `seq` increases by one per
mutation within an epoch, and the epoch changes whenever the numbering starts again (a
process start, or an emptied Redis), so a cursor `(epoch, seq)` is never mistaken for
another stream's. This module holds the message, the ring of recent ones that resume
replays from, and the decision to replay or resync. How a message reaches a socket is
`armada.ws`'s.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import Any, NamedTuple, get_args

from armada.changes import ChangeType
from armada.jsonutil import dumps

# A message for each kind of change the store hands over.
MESSAGE_TYPES: tuple[str, ...] = get_args(ChangeType)
RESYNC = "resync"
# A resync reason: a COMMIT failed with the connection, so changes may be stored unannounced.
COMMIT_UNKNOWN = "commit_unknown"


def new_epoch() -> str:
    """A fresh epoch: random, so two starts in one millisecond still differ."""
    return secrets.token_hex(8)


class _Stamp:
    """`now_text`: the current second's text made once a second, its milliseconds from a
    table (datetime.now(UTC).isoformat took 1.7 µs a message, this 0.5)."""

    __slots__ = ("_prefix", "_second")
    MILLISECONDS = tuple(f".{n:03d}Z" for n in range(1000))

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self) -> str:
        second, milliseconds = divmod(time.time_ns() // 1_000_000, 1000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self._prefix + self.MILLISECONDS[milliseconds]


# format_datetime(now), UTC, for every message.
now_text = _Stamp()


class Message(NamedTuple):
    """One serialised message and what subscribers filter it on (a tuple: made once per
    change, and a frozen dataclass took five times as long to make)."""

    seq: int
    epoch: str
    type: str
    run_uuid: str | None
    job_uuid: str | None
    text: str


def message_body(message_type: str, data: Any, ts: str) -> str:
    """The JSON of a message after its `seq` and `epoch`: `"ts":…,"type":…,"data":…}`.

    Split so the sequencer (this process, or a script inside Redis) can prefix the
    numbering without decoding or re-encoding the data.
    """
    return message_body_of_json(message_type, dumps(data), ts)


def message_body_of_json(message_type: str, data_json: str, ts: str) -> str:
    """message_body with its data already JSON (a write's record, made once for the message
    and the write's answer); the stamp and the type need no escaping."""
    return f'"ts":"{ts}","type":"{message_type}","data":{data_json}}}'


def compose(seq: int, epoch: str, body: str) -> str:
    return f'{{"seq":{seq},"epoch":{dumps(epoch)},{body}'


def resync_body(reason: str, since: int | None) -> str:
    return message_body(RESYNC, {"reason": reason, "since": since}, now_text())


def resync_message(seq: int, epoch: str, reason: str, since: int | None) -> Message:
    """Tells a client it cannot be brought up to date message by message: reload over REST,
    then carry on from `seq`."""
    return Message(seq, epoch, RESYNC, None, None, compose(seq, epoch, resync_body(reason, since)))


@dataclass(frozen=True, slots=True)
class ResumeCursor:
    """Where a reconnecting client stopped: the last `seq` it saw, in `epoch`."""

    since: int
    epoch: str


def resync_reason(cursor: ResumeCursor, epoch: str, current: int, oldest: int) -> str | None:
    """Why `cursor` cannot be replayed from a stream at `current` whose buffer starts at
    `oldest` (current + 1 when empty); None when it can."""
    if cursor.epoch != epoch:
        return "other_epoch"
    if cursor.since > current:
        return "ahead"
    if cursor.since < oldest - 1:
        return "too_old"
    return None


def message_size(message: Message) -> int:
    """The bytes a message's text holds in memory: what the byte limits count."""
    return sys.getsizeof(message.text)


class Ring:
    """The last messages of this process's numbering, for resume: at most `size` of them,
    taking at most `max_bytes` (`message_size`); the oldest go first."""

    def __init__(self, size: int, max_bytes: int) -> None:
        self._messages: deque[Message] = deque()
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0

    def append(self, message: Message) -> None:
        self._messages.append(message)
        self._bytes += message_size(message)
        # A message larger than max_bytes goes too: the bound holds whatever comes.
        while self._messages and (len(self._messages) > self._size
                                  or self._bytes > self._max_bytes):
            self._bytes -= message_size(self._messages.popleft())

    def oldest(self, current: int) -> int:
        return self._messages[0].seq if self._messages else current + 1

    def after(self, seq: int) -> list[Message]:
        """Messages after `seq`; the caller has checked `seq` is not older than the ring."""
        if not self._messages:
            return []
        return list(islice(self._messages, max(0, seq - self._messages[0].seq + 1), None))
