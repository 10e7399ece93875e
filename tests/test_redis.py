"""Several replicas, one stream, through a real Redis (`ARMADA_REDIS_URL`): two service
processes on one SQLite file; a client on one replica gets, in one order and without
loss, what is written on either; resume works on any replica; when Redis goes away and
comes back, clients get `resync` and no message is silently lost; /metrics says whether
Redis is connected."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis
from helpers import RUN, event_body, job_body, next_envelope
from prometheus_client.parser import text_string_to_metric_families
from redis_server import RedisServer
from server_process import ServiceProcess

pytestmark = pytest.mark.external

OUTAGE_TIMEOUT = 15.0


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


@pytest.fixture
async def replicas(tmp_path: Path, redis_server: RedisServer
                   ) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess]]:
    a, b = (ServiceProcess(tmp_path / "armada.db", tmp_path, ARMADA_REDIS_URL=redis_server.url)
            for _ in range(2))
    await asyncio.to_thread(a.start)  # one at a time: the first creates the tables
    await asyncio.to_thread(b.start)
    yield a, b
    await asyncio.gather(asyncio.to_thread(a.stop), asyncio.to_thread(b.stop))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> None:
    async with session.post(url, json=body) as response:
        assert response.status == 201, await response.text()


async def test_a_client_on_one_replica_gets_every_replicas_mutations_in_one_order(
        replicas, session, tmp_path):
    a, b = replicas
    on_a = await session.ws_connect(f"{a.url}/ws/events/")
    on_b = await session.ws_connect(f"{b.url}/ws/events/")
    await post(session, f"{a.url}/api/runs/", RUN)
    await post(session, f"{a.url}/api/jobs/", job_body())
    await asyncio.gather(
        *(post(session, f"{a.url}/api/events/", event_body(f"a-{n}")) for n in range(30)),
        *(post(session, f"{b.url}/api/events/", event_body(f"b-{n}")) for n in range(10)),
    )

    seen_on_b = [await next_envelope(on_b) for _ in range(42)]
    seen_on_a = [await next_envelope(on_a) for _ in range(42)]
    assert seen_on_a == seen_on_b
    first = seen_on_b[0]["seq"]
    assert [m["seq"] for m in seen_on_b] == list(range(first, first + 42))
    assert len({m["epoch"] for m in seen_on_b}) == 1
    events = [m["data"]["event_uuid"] for m in seen_on_b if m["type"] == "new_event"]
    assert sorted(events) == sorted([f"a-{n}" for n in range(30)] + [f"b-{n}" for n in range(10)])
    # Each replica's messages follow its own commit order.
    with sqlite3.connect(tmp_path / "armada.db") as connection:
        committed = [row[0] for row in connection.execute(
            "SELECT event_uuid FROM armada_events ORDER BY rowid")]
    for prefix in ("a-", "b-"):
        assert ([e for e in events if e.startswith(prefix)]
                == [e for e in committed if e.startswith(prefix)])

    # A cursor from replica B resumes on replica A.
    cursor = seen_on_b[9]
    resumed = await session.ws_connect(f"{a.url}/ws/events/", params={
        "since": str(cursor["seq"]), "epoch": cursor["epoch"]})
    assert [await next_envelope(resumed) for _ in range(32)] == seen_on_b[10:]
    for ws in (on_a, on_b, resumed):
        await ws.close()


async def test_losing_redis_mid_stream_resyncs_clients_and_writes_still_succeed(
        replicas, redis_server, session):
    a, b = replicas
    on_b = await session.ws_connect(f"{b.url}/ws/events/")
    loop = asyncio.get_running_loop()
    received: list[tuple[float, dict[str, Any]]] = []
    posted: dict[str, float] = {}

    arrived = asyncio.Event()

    async def read() -> None:
        async for frame in on_b:
            received.append((loop.time(), json.loads(frame.data)))
            arrived.set()

    async def post_event(event_uuid: str) -> None:
        await post(session, f"{a.url}/api/events/", event_body(event_uuid))
        posted[event_uuid] = loop.time()

    async def until(condition: Any, within: float = OUTAGE_TIMEOUT) -> None:
        async with asyncio.timeout(within):
            while not condition():
                arrived.clear()
                await arrived.wait()

    def resyncs(reason: str) -> list[dict[str, Any]]:
        return [m for _, m in received if m["type"] == "resync" and m["data"]["reason"] == reason]

    def got(event_uuid: str) -> bool:
        return any(m["type"] == "new_event" and m["data"]["event_uuid"] == event_uuid
                   for _, m in received)

    reader = asyncio.create_task(read())
    await post(session, f"{a.url}/api/runs/", RUN)
    await post(session, f"{a.url}/api/jobs/", job_body())
    for n in range(5):
        await post_event(f"before-{n}")
    await until(lambda: got("before-4"))
    epoch = received[0][1]["epoch"]

    await asyncio.to_thread(redis_server.stop)
    await until(lambda: resyncs("redis_unavailable"))
    for n in range(3):
        await post_event(f"during-{n}")  # REST does not depend on Redis

    await asyncio.to_thread(redis_server.start)
    await until(lambda: resyncs("redis_reconnected"))
    # Until replica A publishes again (a write it could not publish yet is dropped, and
    # covered by the resync it publishes once it can).
    async with asyncio.timeout(OUTAGE_TIMEOUT):
        for n in range(1000):
            after_uuid = f"after-{n}"
            await post_event(after_uuid)
            with contextlib.suppress(TimeoutError):
                await until(functools.partial(got, after_uuid), within=0.5)
                break

    # Every mutation arrived as a message, or a resync came after it was written.
    last_resync = max(at for at, m in received if m["type"] == "resync")
    for event_uuid, at in posted.items():
        assert got(event_uuid) or last_resync > at, (event_uuid, received)
    assert all(got(f"before-{n}") for n in range(5))
    after = next(m for _, m in received if m["type"] == "new_event"
                 and m["data"]["event_uuid"] == after_uuid)
    assert after["epoch"] != epoch  # Redis came back empty: a new numbering
    reader.cancel()
    await on_b.close()


async def redis_connected(session: aiohttp.ClientSession, service: ServiceProcess) -> float:
    async with session.get(f"{service.url}/metrics/") as response:
        text = await response.text()
    values = [sample.value for family in text_string_to_metric_families(text)
              for sample in family.samples if sample.name == "armada_redis_connected"]
    assert len(values) == 1, text
    return values[0]


async def until_redis_connected_reads(session: aiohttp.ClientSession, service: ServiceProcess,
                                      expected: float) -> None:
    """Scrape until the gauge reads `expected` (the service notices an outage by itself)."""
    async with asyncio.timeout(OUTAGE_TIMEOUT):
        while True:
            if await redis_connected(session, service) == expected:
                return
            await asyncio.sleep(0.05)


async def test_metrics_say_whether_redis_is_connected_as_it_goes_and_comes_back(
        replicas, redis_server, session):
    a, _b = replicas
    assert await redis_connected(session, a) == 1

    await asyncio.to_thread(redis_server.stop)
    await until_redis_connected_reads(session, a, 0)
    await post(session, f"{a.url}/api/runs/", RUN)  # a write it cannot publish: still 0
    assert await redis_connected(session, a) == 0

    await asyncio.to_thread(redis_server.start)
    await until_redis_connected_reads(session, a, 1)


async def test_the_ring_in_redis_keeps_only_its_bytes_and_older_cursors_resync(
        tmp_path, redis_server, session):
    service = ServiceProcess(tmp_path / "armada.db", tmp_path, ARMADA_REDIS_URL=redis_server.url,
                             ARMADA_WS_BUFFER_BYTES="65536")
    await asyncio.to_thread(service.start)
    try:
        ws = await session.ws_connect(f"{service.url}/ws/events/")
        # Each write's message is awaited before the next write: more than the ring's bytes
        # waiting for the publisher (three of these behind on a loaded host) is dropped by
        # design, subscribers told to resync, and this test is about the ring, not that.
        messages = []
        for path, body in [("runs", RUN), ("jobs", job_body()), *(
                ("events", event_body(f"event-{n}", event_content="x" * 20_000))
                for n in range(6))]:
            await post(session, f"{service.url}/api/{path}/", body)
            messages.append(await next_envelope(ws))

        client = redis.Redis.from_url(redis_server.url, decode_responses=True)
        try:
            entries = await client.xrange("armada:stream:ring")
            counted = int(await client.get("armada:stream:ring_bytes"))
        finally:
            await client.aclose()
        # 65,536 bytes hold three entries of a 20,000-character event, not four.
        assert [int(entry_id.partition("-")[0]) for entry_id, _ in entries] == [
            m["seq"] for m in messages[-3:]]
        assert counted == sum(len(fields["m"].encode()) for _, fields in entries) <= 65_536

        evicted = await session.ws_connect(f"{service.url}/ws/events/", params={
            "since": str(messages[-5]["seq"]), "epoch": messages[0]["epoch"]})
        resync = await next_envelope(evicted)
        assert (resync["type"], resync["data"]["reason"]) == ("resync", "too_old")
        covered = await session.ws_connect(f"{service.url}/ws/events/", params={
            "since": str(messages[-4]["seq"]), "epoch": messages[0]["epoch"]})
        assert [await next_envelope(covered) for _ in range(3)] == messages[-3:]
        for each in (ws, evicted, covered):
            await each.close()
    finally:
        await asyncio.to_thread(service.stop)


async def test_a_ring_left_without_its_byte_count_starts_again(tmp_path, redis_server, session):
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        # As a version that bounded the ring by count alone left it.
        await client.set("armada:stream:epoch", "old-epoch")
        # On this server (a ring of another server's numbering starts again regardless).
        await client.set("armada:stream:server", (await client.info("server"))["run_id"])
        await client.set("armada:stream:seq", 1)
        await client.xadd("armada:stream:ring", {"m": '[1,"old-epoch","new_run",null,null]\n{}'},
                          id="1-0")
        service = ServiceProcess(tmp_path / "armada.db", tmp_path,
                                 ARMADA_REDIS_URL=redis_server.url)
        await asyncio.to_thread(service.start)
        try:
            ws = await session.ws_connect(f"{service.url}/ws/events/")
            await post(session, f"{service.url}/api/runs/", RUN)
            assert (await next_envelope(ws))["seq"] == 2  # published: it is in the ring
            await ws.close()
            entries = await client.xrange("armada:stream:ring")
            assert [entry_id for entry_id, _ in entries] == ["2-0"]
            assert int(await client.get("armada:stream:ring_bytes")) == len(
                entries[0][1]["m"].encode())
            resumed = await session.ws_connect(f"{service.url}/ws/events/", params={
                "since": "0", "epoch": "old-epoch"})
            resync = await next_envelope(resumed)
            assert (resync["type"], resync["data"]["reason"]) == ("resync", "too_old")
            await resumed.close()
        finally:
            await asyncio.to_thread(service.stop)
    finally:
        await client.aclose()


async def post_events(session: aiohttp.ClientSession, url: str, prefix: str, count: int
                      ) -> None:
    """`count` events of job-1 in one batch: `count` new_event messages."""
    body = {"events": [event_body(f"{prefix}-{n}") for n in range(count)]}
    async with session.post(f"{url}/api/events/batch", json=body) as response:
        assert response.status == 201, await response.text()


def each_seq_names_one_message(messages: list[dict[str, Any]]) -> bool:
    numbered = [(m["epoch"], m["seq"]) for m in messages if m["type"] != "resync"]
    return len(numbered) == len(set(numbered))


async def test_a_redis_restored_from_a_snapshot_starts_a_new_epoch_so_old_cursors_resync(
        replicas, redis_server, session):
    a, b = replicas
    live = await session.ws_connect(f"{b.url}/ws/events/")
    await post(session, f"{a.url}/api/runs/", RUN)
    await post(session, f"{a.url}/api/jobs/", job_body())
    await post_events(session, a.url, "saved", 30)
    seen = [await next_envelope(live) for _ in range(32)]
    async with redis.Redis.from_url(redis_server.url) as client:
        await client.save()
    await post_events(session, a.url, "unsaved", 30)
    seen += [await next_envelope(live) for _ in range(30)]
    cursor = seen[-1]
    assert cursor["seq"] == 62

    await asyncio.to_thread(redis_server.stop)  # kill -9: the last 30 were never saved
    await asyncio.to_thread(redis_server.start)  # from the snapshot
    async with redis.Redis.from_url(redis_server.url) as client:  # the counter went back
        assert int(await client.get("armada:stream:seq")) < cursor["seq"]
    await until_redis_connected_reads(session, a, 1)
    await until_redis_connected_reads(session, b, 1)
    await post_events(session, a.url, "after", 50)

    resumed = await session.ws_connect(f"{a.url}/ws/events/", params={
        "since": str(cursor["seq"]), "epoch": cursor["epoch"]})
    first = await next_envelope(resumed)
    assert (first["type"], first["data"].get("reason")) == ("resync", "other_epoch")
    # The live client: a resync, then the new messages in a new epoch, no seq named twice.
    while not any(m["type"] == "new_event" and m["data"]["event_uuid"] == "after-49"
                  for m in seen):
        seen.append(await next_envelope(live))
    after_restart = seen[62:]
    assert after_restart[0]["type"] == "resync"
    assert all(m["epoch"] != cursor["epoch"] for m in after_restart if m["type"] != "resync")
    assert each_seq_names_one_message(seen)
    for ws in (live, resumed):
        await ws.close()


@pytest.mark.parametrize("options", [(), ("--rename-command", "INFO", "")],
                         ids=["redis", "redis-without-info"])
async def test_a_counter_that_goes_back_in_redis_starts_a_new_epoch_and_live_clients_resync(
        tmp_path, session, options):
    redis_server = RedisServer(tmp_path / "redis", *options)
    await asyncio.to_thread(redis_server.start)
    service = ServiceProcess(tmp_path / "armada.db", tmp_path, ARMADA_REDIS_URL=redis_server.url)
    await asyncio.to_thread(service.start)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        live = await session.ws_connect(f"{service.url}/ws/events/")
        await post(session, f"{service.url}/api/runs/", RUN)
        await post(session, f"{service.url}/api/jobs/", job_body())
        await post_events(session, service.url, "before", 10)
        seen = [await next_envelope(live) for _ in range(12)]
        cursor = seen[-1]

        await client.set("armada:stream:seq", 5)  # as a restore on the same server would
        await post_events(session, service.url, "after", 10)
        while not any(m["type"] == "resync" for m in seen):
            seen.append(await next_envelope(live))
        resync = next(m for m in seen if m["type"] == "resync")
        assert resync["data"]["reason"] == "numbering_restarted"
        assert resync["epoch"] != cursor["epoch"]
        assert each_seq_names_one_message(seen)

        resumed = await session.ws_connect(f"{service.url}/ws/events/", params={
            "since": str(cursor["seq"]), "epoch": cursor["epoch"]})
        first = await next_envelope(resumed)
        assert (first["type"], first["data"].get("reason")) == ("resync", "other_epoch")
        for ws in (live, resumed):
            await ws.close()
    finally:
        await client.aclose()
        await asyncio.to_thread(service.stop)
        await asyncio.to_thread(redis_server.stop)
