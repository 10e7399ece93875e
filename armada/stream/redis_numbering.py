"""One stream for several replicas, through Redis (`ARMADA_REDIS_URL`).

Each replica hands every mutation, in commit order, to its one publisher task, which runs
a script inside Redis that numbers the message (INCR), appends it to the ring (a capped
Redis stream keyed by seq) and publishes it, all at once: seq order is publish order, one
order for the whole deployment. The ring keeps at most `ARMADA_WS_BUFFER` entries and
`ARMADA_WS_BUFFER_BYTES` bytes of them (a count of its bytes is kept beside it), the
oldest going first, as this process's ring does. A listener task delivers what Redis
publishes (every replica's messages, this one's included) to this replica's subscribers.
Resume reads the ring in Redis, so a client may come back on any replica.

The numbering is tied to the Redis server that keeps it: its epoch is recorded with the
server's `run_id`, and a Redis that restarted (from a snapshot or an AOF that lost its last
writes), another server after a failover, or a counter lower than this replica last saw
in the same epoch, starts a new epoch with an empty ring (EPOCH_SCRIPT, run before every
publish and every read of the position). A seq may so never name two messages of one
epoch: every cursor from before gets a resync, and a resync is published for live clients.

Redis going away never fails a write (the database is the record; the stream only tells
of it): messages that cannot be published are dropped, subscribers get a `resync`
at once, and once Redis answers again a `resync` is published through the stream itself,
so that every replica's subscribers (and any later replay over that stretch) reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from itertools import islice
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from armada import const
from armada.jsonutil import dumps
from armada.stream.messages import (
    RESYNC,
    Message,
    ResumeCursor,
    new_epoch,
    resync_body,
    resync_message,
    resync_reason,
)
from armada.stream.numbering import Deliver

log = logging.getLogger(__name__)

# KEYS: epoch, seq, ring, ring's bytes. ARGV: a fresh epoch, ring size, meta tail, body,
# channel, ring's most bytes. An entry is `[seq,"epoch",type,run,job]` + newline + the
# message text; the ring's bytes are the sum of its entries' lengths. A ring without that
# sum (kept by a version that bounded it by count alone) is started again: its bytes are
# unknown, and cursors into it get a resync (too_old).
PUBLISH_SCRIPT = """
local seq = redis.call('INCR', KEYS[2])
if seq == 1 then
  if redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('DEL', KEYS[3])
    redis.call('SET', KEYS[1], ARGV[1])
  end
  redis.call('DEL', KEYS[4])
end
if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('DEL', KEYS[3])
end
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local epoch = redis.call('GET', KEYS[1])
local entry = '[' .. seq .. ',"' .. epoch .. '",' .. ARGV[3] .. ']\\n'
  .. '{"seq":' .. seq .. ',"epoch":"' .. epoch .. '",' .. ARGV[4]
redis.call('XADD', KEYS[3], seq .. '-0', 'm', entry)
local size = redis.call('INCRBY', KEYS[4], #entry)
local count = redis.call('XLEN', KEYS[3])
local most, most_bytes = tonumber(ARGV[2]), tonumber(ARGV[6])
while count > 0 and (count > most or size > most_bytes) do
  local oldest = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
  redis.call('XDEL', KEYS[3], oldest[1])
  size = redis.call('DECRBY', KEYS[4], #oldest[2][2])
  count = count - 1
end
if count == 0 then
  redis.call('SET', KEYS[4], 0)
end
redis.call('PUBLISH', ARGV[5], entry)
return seq
"""
# KEYS: epoch, seq, ring, ring's bytes, server. ARGV: a fresh epoch, the epoch and seq this
# replica last saw. Starts a new epoch (and empties the ring) when there is none, when the
# server is not the one the epoch was started on (its run_id changes at every start), or
# when the counter went back in the epoch; answers 0 (kept), 1 (started), 2 (replaced). A
# Redis that refuses INFO to scripts gives no run_id: the counter's check alone applies.
EPOCH_SCRIPT = """
local info = redis.pcall('INFO', 'server')
local run_id = type(info) == 'string' and string.match(info, 'run_id:(%w+)') or ''
local epoch = redis.call('GET', KEYS[1])
if epoch and redis.call('GET', KEYS[5]) == run_id
    and (epoch ~= ARGV[2] or tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[3])) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[5], run_id)
redis.call('DEL', KEYS[3], KEYS[4])
if epoch then
  return 2
end
return 1
"""
EPOCH_REPLACED = 2
UNAVAILABLE = "redis_unavailable"
RESTARTED = "numbering_restarted"
RECONNECTED = "redis_reconnected"
LOST = "messages_lost"
MAX_BATCH = 500


def parse_entry(entry: str) -> Message:
    meta, _, text = entry.partition("\n")
    seq, epoch, message_type, run_uuid, job_uuid = json.loads(meta)
    return Message(seq, epoch, message_type, run_uuid, job_uuid, text)


def _meta(message_type: str, run_uuid: str | None, job_uuid: str | None) -> str:
    """The `type,run,job` part of an entry's meta line (the script adds seq and epoch)."""
    return dumps([message_type, run_uuid, job_uuid])[1:-1]


def _seq_of(entry_id: str) -> int:
    return int(entry_id.partition("-")[0])


class RedisNumbering:
    """The deployment's numbering (`armada.stream.numbering.Numbering`), kept in Redis."""

    def __init__(self, url: str, ring_size: int, deliver: Deliver, *,
                 ring_bytes: int = const.WS_BUFFER_BYTES) -> None:
        self.epoch = new_epoch()  # until Redis says which epoch the deployment is in
        self.seq = 0
        self._deliver = deliver
        self._ring_size = ring_size
        self._ring_bytes = ring_bytes
        prefix = const.REDIS_KEY_PREFIX
        self._keys = [f"{prefix}:epoch", f"{prefix}:seq", f"{prefix}:ring",
                      f"{prefix}:ring_bytes"]
        self._epoch_keys = [*self._keys, f"{prefix}:server"]
        self._channel = f"{prefix}:messages"
        # No retries inside redis-py: a reconnect it hid would hide lost messages too.
        self._client = redis.Redis.from_url(
            url, decode_responses=True, retry=Retry(NoBackoff(), 0),
            socket_timeout=const.REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=const.REDIS_TIMEOUT_SECONDS, socket_keepalive=True,
        )
        self._script = self._client.register_script(PUBLISH_SCRIPT)
        self._epoch_script = self._client.register_script(EPOCH_SCRIPT)
        self._outbox: deque[tuple[str, str]] = deque()
        self._outbox_bytes = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()  # nothing waits to be published
        self._publisher_lost = False  # messages were dropped: publish a resync first
        self._listening = asyncio.Event()
        self._listener_down = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start publishing and listening; wait (a little) until subscribed to Redis."""
        self._tasks = [asyncio.create_task(self._listen(), name="redis-listener"),
                       asyncio.create_task(self._publish(), name="redis-publisher")]
        try:
            async with asyncio.timeout(const.REDIS_TIMEOUT_SECONDS):
                await self._listening.wait()
        except TimeoutError:
            log.warning("Redis does not answer yet; the stream resumes when it does")

    @property
    def connected(self) -> bool:
        """Subscribed to Redis, and publishing to it without loss (`armada_redis_connected`)."""
        return self._listening.is_set() and not self._listener_down and not self._publisher_lost

    async def close(self) -> None:
        """Publish what is still waiting (briefly), then stop. Safe to call twice."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(const.REDIS_DRAIN_SECONDS):
                await self._idle.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._client.aclose()

    # Publishing

    def publish(self, message_type: str, run_uuid: str | None, job_uuid: str | None,
                body: str) -> None:
        """Queue one message for Redis, in call (that is, commit) order; never waits."""
        if self._publisher_lost:
            return  # the resync published once Redis is back covers it
        if len(self._outbox) >= const.REDIS_MAX_UNPUBLISHED:
            self._lose(f"more than {const.REDIS_MAX_UNPUBLISHED} messages wait for Redis")
            return
        # Beyond the ring's bytes, what waits could not all be replayed anyway.
        if self._outbox_bytes + len(body) > self._ring_bytes and self._outbox:
            self._lose(f"more than {self._ring_bytes} bytes of messages wait for Redis")
            return
        self._outbox.append((_meta(message_type, run_uuid, job_uuid), body))
        self._outbox_bytes += len(body)
        self._idle.clear()
        self._wakeup.set()

    async def _publish(self) -> None:
        delay = const.REDIS_RETRY_FIRST_SECONDS
        while True:
            if not self._outbox and not self._publisher_lost:
                self._wakeup.clear()
                self._idle.set()
                await self._wakeup.wait()
                self._idle.clear()
                continue
            try:
                if self._publisher_lost:
                    await self._run_script([(_meta(RESYNC, None, None), resync_body(LOST, None))])
                    self._publisher_lost = False
                    log.warning("Redis is back: published a resync for the lost messages")
                else:
                    batch = list(islice(self._outbox, MAX_BATCH))
                    await self._run_script(batch)
                    for _ in batch:
                        self._outbox_bytes -= len(self._outbox.popleft()[1])
                delay = const.REDIS_RETRY_FIRST_SECONDS
            except (RedisError, OSError) as error:
                self._lose(f"cannot publish to Redis: {error}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, const.REDIS_RETRY_MAX_SECONDS)

    async def _run_script(self, batch: list[tuple[str, str]]) -> None:
        # One connection for the pipeline: the check holds for the server that numbers them.
        async with self._client.pipeline(transaction=False) as pipe:
            await self._check_epoch(pipe)
            for meta, body in batch:
                await self._script(keys=self._keys, client=pipe, args=[
                    new_epoch(), self._ring_size, meta, body, self._channel,
                    self._ring_bytes])
            checked, *_ = await pipe.execute()
        self._checked_epoch(checked)

    async def _check_epoch(self, pipe: Any) -> None:
        """Queue EPOCH_SCRIPT first in `pipe`, with what this replica last saw."""
        await self._epoch_script(keys=self._epoch_keys, client=pipe,
                                 args=[new_epoch(), self.epoch, self.seq])

    def _checked_epoch(self, answer: int) -> None:
        """After EPOCH_SCRIPT: when it replaced the epoch, tell every replica's clients."""
        if answer == EPOCH_REPLACED:
            log.warning("Redis restarted, was replaced, or its numbering went back: a new "
                        "epoch starts, clients resync")
            self.publish(RESYNC, None, None, resync_body(RESTARTED, None))

    def _lose(self, why: str) -> None:
        if not self._publisher_lost:
            log.warning("%s; dropping %d unpublished messages, subscribers resync",
                        why, len(self._outbox))
            self._publisher_lost = True
            self._outbox.clear()
            self._outbox_bytes = 0
            self._resync(UNAVAILABLE)

    # Listening

    async def _listen(self) -> None:
        delay = const.REDIS_RETRY_FIRST_SECONDS
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                # Subscribed first: from here on nothing published is missed.
                epoch, seq, _, _ = await self._position(None)
                self.epoch, self.seq = epoch, seq
                if self._listener_down:
                    log.warning("Redis is back; subscribers resync at seq %d", seq)
                    self._listener_down = False
                    self._resync(RECONNECTED)
                self._listening.set()
                delay = const.REDIS_RETRY_FIRST_SECONDS
                async for item in pubsub.listen():
                    if item is not None and item.get("type") == "message":
                        self._received(parse_entry(item["data"]))
            except (RedisError, OSError) as error:
                if not self._listener_down:
                    log.warning("lost Redis (%s); subscribers resync, retrying", error)
                    self._listener_down = True
                    self._resync(UNAVAILABLE)
                await asyncio.sleep(delay)
                delay = min(delay * 2, const.REDIS_RETRY_MAX_SECONDS)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis

    # Resume

    async def backlog(self, cursor: ResumeCursor | None) -> list[Message]:
        """What a client resuming from `cursor` missed, from the ring in Redis; or a resync."""
        if cursor is None:
            return []
        if not self._listener_down:
            try:
                epoch, current, oldest, entries = await self._position(cursor.since)
            except (RedisError, OSError) as error:
                log.warning("cannot read the ring from Redis: %s", error)
            else:
                reason = resync_reason(cursor, epoch, current, oldest)
                if reason is not None:
                    return [resync_message(current, epoch, reason, cursor.since)]
                return [parse_entry(entry) for entry in entries]
        return [resync_message(self.seq, self.epoch, UNAVAILABLE, cursor.since)]

    def _resync(self, reason: str) -> None:
        """Tell this process's subscribers at once, unnumbered, to reload."""
        self._deliver(resync_message(self.seq, self.epoch, reason, None))

    def _received(self, message: Message) -> None:
        """A message numbered in Redis (this replica's or another's), in publish order."""
        self.epoch, self.seq = message.epoch, message.seq
        self._deliver(message)

    async def _position(self, since: int | None) -> tuple[str, int, int, list[str]]:
        """Epoch, current seq, oldest seq in the ring, and the entries after `since`, read
        in one transaction."""
        epoch_key, seq_key, ring_key, _ = self._keys
        async with self._client.pipeline(transaction=True) as pipe:
            await self._check_epoch(pipe)
            pipe.get(epoch_key)
            pipe.get(seq_key)
            pipe.xrange(ring_key, "-", "+", count=1)
            if since is not None:
                pipe.xrange(ring_key, f"{since + 1}-0", "+")
            checked, epoch, seq, first, *after = await pipe.execute()
        self._checked_epoch(checked)
        current = int(seq or 0)
        oldest = _seq_of(first[0][0]) if first else current + 1
        entries = [fields["m"] for _, fields in after[0]] if after else []
        return epoch, current, oldest, entries
