"""What the live stream carries, apart from how it is sent.

Every message is `{"seq", "epoch", "ts", "type", "data"}`: `seq` increases by one per
mutation within an epoch, and the epoch changes whenever the numbering starts again (a
process start, or an emptied Redis), so a cursor `(epoch, seq)` is never mistaken for
another stream's. This module holds the message, the ring of recent ones that resume
replays from, the decision to replay or resync, the filters, and which run and job each
message concerns.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Protocol

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from armada import const
from armada.errors import NotFound
from armada.frames import text_frame
from armada.jsonutil import dumps
from armada.schemas import Identifier, StrictSchema

MESSAGE_TYPES = (
    "new_run", "new_job", "new_event", "update_job_status", "update_event_status", "delete_run",
)
RESYNC = "resync"
# A resync reason: a COMMIT failed with the connection, so changes may be stored unannounced.
COMMIT_UNKNOWN = "commit_unknown"


def new_epoch() -> str:
    """A fresh epoch: random, so two starts in one millisecond still differ."""
    return secrets.token_hex(8)


def now_text() -> str:
    """format_datetime(now) for every message, at half its cost (aware UTC ends in +00:00)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@dataclass(frozen=True, slots=True)
class Message:
    """One serialised message and what subscribers filter it on."""

    seq: int
    epoch: str
    type: str
    run_uuid: str | None
    job_uuid: str | None
    text: str
    _frame: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def frame(self) -> bytes:
        """`text` as a WebSocket frame, built when first written and then shared."""
        frame = self._frame
        if frame is None:
            frame = text_frame(self.text)
            object.__setattr__(self, "_frame", frame)
        return frame


def message_body(message_type: str, data: Any, ts: str) -> str:
    """The JSON of a message after its `seq` and `epoch`: `"ts":…,"type":…,"data":…}`.

    Split so the sequencer (this process, or a script inside Redis) can prefix the
    numbering without decoding or re-encoding the data.
    """
    return dumps({"ts": ts, "type": message_type, "data": data})[1:]


def compose(seq: int, epoch: str, body: str) -> str:
    return f'{{"seq":{seq},"epoch":{dumps(epoch)},{body}'


def resync_body(reason: str, since: int | None) -> str:
    return message_body(RESYNC, {"reason": reason, "since": since}, now_text())


def resync_message(seq: int, epoch: str, reason: str, since: int | None) -> Message:
    """Tells a client it cannot be brought up to date message by message: reload over REST,
    then carry on from `seq`."""
    return Message(seq, epoch, RESYNC, None, None, compose(seq, epoch, resync_body(reason, since)))


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a reconnecting client stopped: the last `seq` it saw, in `epoch`."""

    since: int
    epoch: str


def resync_reason(cursor: Cursor, epoch: str, current: int, oldest: int) -> str | None:
    """Why `cursor` cannot be replayed from a stream at `current` whose buffer starts at
    `oldest` (current + 1 when empty); None when it can."""
    if cursor.epoch != epoch:
        return "other_epoch"
    if cursor.since > current:
        return "ahead"
    if cursor.since < oldest - 1:
        return "too_old"
    return None


class Ring:
    """The last `size` messages of this process's numbering, for resume."""

    def __init__(self, size: int) -> None:
        self._messages: deque[Message] = deque(maxlen=size)

    def append(self, message: Message) -> None:
        self._messages.append(message)

    def oldest(self, current: int) -> int:
        return self._messages[0].seq if self._messages else current + 1

    def after(self, seq: int) -> list[Message]:
        """Messages after `seq`; the caller has checked `seq` is not older than the ring."""
        if not self._messages:
            return []
        return list(islice(self._messages, max(0, seq - self._messages[0].seq + 1), None))


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """What one subscriber asked to receive; empty means everything."""

    run_uuid: str | None = None
    job_uuid: str | None = None
    types: frozenset[str] | None = None
    job_run_uuid: str | None = None  # the run of `job_uuid`, when known, for delete_run

    def accepts(self, message: Message) -> bool:
        if message.type == RESYNC:
            return True
        watching = self.run_uuid is not None or self.job_uuid is not None
        if message.type == "delete_run" and watching and self._watches_run(message.run_uuid):
            return True  # a client watching a run always learns that it is gone
        if not self._type_ok(message):
            return False
        # A message whose run is unknown is delivered: a surplus message, never a lost one.
        if self.run_uuid is not None and message.run_uuid not in (None, self.run_uuid):
            return False
        return self.job_uuid is None or message.job_uuid == self.job_uuid

    def _type_ok(self, message: Message) -> bool:
        return self.types is None or message.type in self.types

    def _watches_run(self, run_uuid: str | None) -> bool:
        if self.run_uuid is not None:
            return run_uuid == self.run_uuid
        return self.job_run_uuid in (None, run_uuid)


class StreamQuery(StrictSchema):
    """The query string of `/ws/events/`; refused with a 422 before the upgrade."""

    since = fields.Integer(strict=False, validate=validate.Range(min=0, max=2**63 - 1))
    epoch = fields.String(validate=validate.Length(min=1, max=64))
    run_uuid = Identifier()
    job_uuid = Identifier()
    types = fields.String(validate=validate.Length(min=1, max=1000))

    @validates("types")
    def _known_types(self, value: str, **kwargs: Any) -> None:
        unknown = sorted(set(value.split(",")) - set(MESSAGE_TYPES))
        if unknown:
            raise ValidationError(
                f"Unknown message type(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(MESSAGE_TYPES)}."
            )

    @validates_schema
    def _cursor_is_whole(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("since" in data) != ("epoch" in data):
            missing = "epoch" if "since" in data else "since"
            raise ValidationError("since and epoch are given together.", missing)


stream_query = StreamQuery()


def stream_request(query: dict[str, Any]) -> tuple[Cursor | None, StreamFilter]:
    """The resume cursor and filter of a query loaded by StreamQuery."""
    cursor = Cursor(query["since"], query["epoch"]) if "since" in query else None
    types = frozenset(query["types"].split(",")) if "types" in query else None
    return cursor, StreamFilter(query.get("run_uuid"), query.get("job_uuid"), types)


def concerns(message_type: str, data: Any, run_uuid: str | None, job_uuid: str | None,
             owners: Owners) -> tuple[str | None, str | None]:
    """The run and job a message is about: from its data, the caller, or what is known."""
    if isinstance(data, dict):
        run_uuid = run_uuid or data.get("run_uuid")
        job_uuid = job_uuid or data.get("job_uuid")
        if job_uuid is None and "event_uuid" in data:
            job_uuid = owners.job_of_event(data["event_uuid"])
    if run_uuid is None and job_uuid is not None:
        run_uuid = owners.run_of_job(job_uuid)
    return run_uuid, job_uuid


class OwnerLookups(Protocol):
    """The store's reads that Owners falls back on; each raises NotFound when unknown."""

    async def get_job(self, job_uuid: str) -> dict[str, Any]: ...

    async def get_event(self, event_uuid: str) -> dict[str, Any]: ...


class Owners:
    """Which run each job is in and which job each event is in, for filters.

    A job never changes run, nor an event job, so a bounded cache is safe; it learns from
    every message (this replica's or another's) and forgets the jobs of a deleted run.
    """

    def __init__(self, size: int = const.OWNERS_CACHE_SIZE) -> None:
        self._size = size
        self._run_of_job: OrderedDict[str, str] = OrderedDict()
        self._job_of_event: OrderedDict[str, str] = OrderedDict()

    def run_of_job(self, job_uuid: str) -> str | None:
        return _get(self._run_of_job, job_uuid)

    def job_of_event(self, event_uuid: str) -> str | None:
        return _get(self._job_of_event, event_uuid)

    def learn(self, message_type: str, run_uuid: str | None, job_uuid: str | None,
              data: Any) -> None:
        if message_type == "delete_run" and run_uuid is not None:
            self._forget_run(run_uuid)
            return
        if run_uuid is not None and job_uuid is not None:
            _put(self._run_of_job, job_uuid, run_uuid, self._size)
        if isinstance(data, dict) and job_uuid is not None and "event_uuid" in data:
            _put(self._job_of_event, data["event_uuid"], job_uuid, self._size)

    async def of_job(self, lookups: OwnerLookups, job_uuid: str) -> str | None:
        """The run of a job, from the cache or else the store (None when unknown)."""
        run_uuid = self.run_of_job(job_uuid)
        if run_uuid is None:
            try:
                run_uuid = (await lookups.get_job(job_uuid))["run_uuid"]
            except NotFound:
                return None
            _put(self._run_of_job, job_uuid, run_uuid, self._size)
        return run_uuid

    async def of_event(self, lookups: OwnerLookups, event_uuid: str
                       ) -> tuple[str | None, str | None]:
        """`(job_uuid, run_uuid)` of an event, from the cache or else the store."""
        job_uuid = self.job_of_event(event_uuid)
        if job_uuid is None:
            try:
                job_uuid = (await lookups.get_event(event_uuid))["job_uuid"]
            except NotFound:
                return None, None
            _put(self._job_of_event, event_uuid, job_uuid, self._size)
        return job_uuid, await self.of_job(lookups, job_uuid)

    def _forget_run(self, run_uuid: str) -> None:
        jobs = {job for job, run in self._run_of_job.items() if run == run_uuid}
        for job in jobs:
            del self._run_of_job[job]
        for event in [event for event, job in self._job_of_event.items() if job in jobs]:
            del self._job_of_event[event]


def _get(cache: OrderedDict[str, str], key: str) -> str | None:
    value = cache.get(key)
    if value is not None:
        cache.move_to_end(key)
    return value


def _put(cache: OrderedDict[str, str], key: str, value: str, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)
