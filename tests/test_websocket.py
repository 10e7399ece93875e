"""The WebSocket `/ws/events/`: what every subscriber receives, in what order, and how
subscribers that stop reading, vanish or stop answering pings are handled."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import socket
import sqlite3
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from helpers import RUN, event_body, job_body, next_message, no_message

from armada import const
from armada.config import Config, SqliteSettings
from armada.ws.subscribers import subscribers_key

WIRE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
BIG_CONTENT = "x" * 60_000
MAX_FILL_EVENTS = 400  # 24 MB: far more than the socket buffers of one connection hold
FILL_TIMEOUT_SECONDS = 20  # a broadcast that awaited the non-reader would hang instead
CLOSING = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


async def create_run_and_job(client: TestClient) -> None:
    assert (await client.post("/api/runs/", json=RUN)).status == 201
    assert (await client.post("/api/jobs/", json=job_body())).status == 201


async def drain(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    return [await next_message(ws) for _ in range(count)]


async def post_until_backed_up(client: TestClient, reader: aiohttp.ClientWebSocketResponse,
                               until: Callable[[], bool]) -> int:
    """POST big events until `until()` holds (a non-reader is backed up); the reader reads
    each one. Returns how many were posted."""
    posted = 0
    async with asyncio.timeout(FILL_TIMEOUT_SECONDS):
        while not until():
            assert posted < MAX_FILL_EVENTS, "the non-reader never backed up"
            response = await client.post(
                "/api/events/", json=event_body(f"big-{posted}", event_content=BIG_CONTENT))
            assert response.status == 201
            assert (await next_message(reader))["data"]["event_uuid"] == f"big-{posted}"
            posted += 1
    return posted


def most_pending(client: TestClient) -> int:
    return max(subscriber.pending for subscriber in client.app[subscribers_key]._subscribers)


async def eventually(condition: Callable[[], bool], within: float = 3.0) -> None:
    """Wait until `condition()` holds; fail the test when it does not in time."""
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still not true after {within} s")


def _small_receive_buffer(addr_info: Any) -> socket.socket:
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


@pytest.fixture
async def connect_non_reader() -> AsyncIterator[
        Callable[[TestClient], Awaitable[aiohttp.ClientWebSocketResponse]]]:
    """Subscribers that never call receive(): with a small socket buffer, the server's
    sends to them soon block."""
    sessions: list[aiohttp.ClientSession] = []

    async def connect(client: TestClient) -> aiohttp.ClientWebSocketResponse:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(socket_factory=_small_receive_buffer)
        )
        sessions.append(session)
        return await session.ws_connect(client.make_url("/ws/events/"))

    yield connect
    for session in sessions:
        await session.close()


async def open_raw_subscriber(client: TestClient
                              ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand on a plain TCP connection with a small receive buffer;
    after the handshake nothing reads it."""
    loop = asyncio.get_running_loop()
    sock = _small_receive_buffer((socket.AF_INET, socket.SOCK_STREAM, 0, "", ()))
    sock.setblocking(False)
    await loop.sock_connect(sock, (client.host, client.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((
        "GET /ws/events/ HTTP/1.1\r\n"
        f"Host: {client.host}:{client.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def vanish(writer: asyncio.StreamWriter) -> None:
    """Reset the connection: no close frame, no FIN."""
    writer.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# Message shapes


async def test_each_message_type_carries_exactly_the_spec_data(client, subscribe):
    ws = await subscribe()
    await client.post("/api/runs/", json=RUN)
    await client.post("/api/jobs/", json=job_body())
    await client.post("/api/events/", json=event_body())
    await client.patch("/api/jobs/status", json={"job_uuid": "job-1", "job_status": "Success"})
    await client.patch("/api/events/status",
                       json={"event_uuid": "event-1", "event_status": "Failed"})
    assert (await client.delete("/api/runs/run-1")).status == 200

    assert await drain(ws, 6) == [
        {"type": "new_run",
         "data": {"run_uuid": "run-1", "run_datetime": "2026-02-24T10:30:00.000Z"}},
        {"type": "new_job",
         "data": {"job_uuid": "job-1", "run_uuid": "run-1",
                  "job_datetime": "2026-02-24T10:31:00.000Z",
                  "job_associated_agent": "Unknown", "job_status": "Running"}},
        {"type": "new_event",
         "data": {"event_uuid": "event-1", "event_content": "Page loaded", "job_uuid": "job-1",
                  "event_datetime": "2026-02-24T10:32:00.000Z", "event_status": "Running"}},
        {"type": "update_job_status", "data": {"job_uuid": "job-1", "job_status": "Success"}},
        {"type": "update_event_status",
         "data": {"event_uuid": "event-1", "event_status": "Failed"}},
        {"type": "delete_run", "data": {"run_uuid": "run-1"}},
    ]
    await no_message(ws)


async def test_messages_are_json_text_frames(client, subscribe):
    ws = await subscribe()
    await client.post("/api/runs/", json=RUN)
    frame = await ws.receive(timeout=5)
    assert frame.type == aiohttp.WSMsgType.TEXT
    assert set(json.loads(frame.data)) == {"seq", "epoch", "ts", "type", "data"}


async def test_message_datetimes_are_utc_with_milliseconds_and_z(client, subscribe):
    ws = await subscribe()
    await client.post("/api/runs/", json={
        "run_uuid": "run-zoned", "run_datetime": "2026-02-24T12:30:00.123456+02:00"})
    await client.post("/api/jobs/", json=job_body(
        run_uuid="run-zoned", job_datetime="2026-02-24T10:31:05.5"))
    await client.post("/api/events/", json=event_body(event_datetime="2026-02-24T10:32:00Z"))
    run, job, event = (message["data"] for message in await drain(ws, 3))
    assert run["run_datetime"] == "2026-02-24T10:30:00.123Z"
    assert job["job_datetime"] == "2026-02-24T10:31:05.500Z"
    assert event["event_datetime"] == "2026-02-24T10:32:00.000Z"
    for value in (run["run_datetime"], job["job_datetime"], event["event_datetime"]):
        assert WIRE_DATETIME.match(value)


async def test_generated_ids_and_defaults_are_in_the_message(client, subscribe):
    ws = await subscribe()
    await client.post("/api/runs/", json=RUN)
    job_response = await client.post("/api/jobs/", json={
        "run_uuid": "run-1", "job_datetime": "2026-02-24T10:31:00.000"})
    job = await job_response.json()
    event_response = await client.post("/api/events/", json={
        "job_uuid": job["job_uuid"], "event_content": "Form submitted",
        "event_datetime": "2026-02-24T10:32:00.000"})
    event = await event_response.json()
    _, new_job, new_event = await drain(ws, 3)
    assert new_job == {"type": "new_job", "data": job}
    assert new_event == {"type": "new_event", "data": event}
    assert job["job_associated_agent"] == "Unknown" and event["event_status"] == "Running"


# What is and is not broadcast


async def test_a_job_for_an_unregistered_run_broadcasts_new_run_then_new_job(client, subscribe):
    ws = await subscribe()
    response = await client.post("/api/jobs/", json=job_body(run_uuid="run-early"))
    assert response.status == 201
    assert await drain(ws, 2) == [
        {"type": "new_run",
         "data": {"run_uuid": "run-early", "run_datetime": "2026-02-24T10:31:00.000Z"}},
        {"type": "new_job", "data": await response.json()},
    ]
    await no_message(ws)


async def test_registering_a_run_that_exists_broadcasts_nothing(client, subscribe):
    await client.post("/api/jobs/", json=job_body())
    ws = await subscribe()
    response = await client.post("/api/runs/", json=RUN)
    assert response.status == 200
    assert (await client.post("/api/runs/", json=RUN)).status == 200
    await no_message(ws)


async def test_failed_requests_broadcast_nothing(client, subscribe):
    await create_run_and_job(client)
    ws = await subscribe()
    failures = [
        (await client.post("/api/events/", json=event_body(job_uuid="no-such-job")), 404),
        (await client.patch("/api/jobs/status",
                            json={"job_uuid": "no-such-job", "job_status": "Failed"}), 404),
        (await client.patch("/api/events/status",
                            json={"event_uuid": "no-such-event", "event_status": "Failed"}),
         404),
        (await client.delete("/api/runs/no-such-run"), 404),
        (await client.post("/api/jobs/", json={"run_uuid": "run-1"}), 422),
        (await client.post("/api/runs/", json={"run_uuid": "run-2"}), 422),
        (await client.post("/api/events/", data=b"{not json",
                           headers={"Content-Type": "application/json"}), None),
    ]
    for response, status in failures:
        assert 400 <= response.status < 500, await response.text()
        if status is not None:
            assert response.status == status
    await no_message(ws)


# Fan-out and order


async def test_every_subscriber_gets_every_message_in_the_same_order(client, subscribe):
    subscribers = [await subscribe() for _ in range(3)]
    await create_run_and_job(client)
    for ws in subscribers:
        assert [m["type"] for m in await drain(ws, 2)] == ["new_run", "new_job"]

    uuids = [f"event-{n:02d}" for n in range(50)]
    responses = await asyncio.gather(
        *(client.post("/api/events/", json=event_body(event_uuid)) for event_uuid in uuids)
    )
    assert [response.status for response in responses] == [201] * 50

    orders = []
    for ws in subscribers:
        messages = await drain(ws, 50)
        assert {m["type"] for m in messages} == {"new_event"}
        orders.append([m["data"]["event_uuid"] for m in messages])
        await no_message(ws, within=0.1)
    assert sorted(orders[0]) == uuids
    assert orders[1] == orders[0] and orders[2] == orders[0]


async def test_messages_follow_the_commit_order_of_concurrent_writes(client, subscribe,
                                                                     config: Config):
    if not isinstance(config.database, SqliteSettings):
        pytest.skip("commit order is read from SQLite rowids")
    await create_run_and_job(client)
    ws = await subscribe()
    uuids = [f"event-{n:02d}" for n in range(50)]
    await asyncio.gather(
        *(client.post("/api/events/", json=event_body(event_uuid)) for event_uuid in uuids)
    )
    received = [m["data"]["event_uuid"] for m in await drain(ws, 50)]
    with sqlite3.connect(config.database.path) as connection:
        committed = [row[0] for row in connection.execute(
            "SELECT event_uuid FROM armada_events ORDER BY rowid")]
    assert received == committed


async def test_both_ws_paths_with_and_without_slash_subscribe(client):
    with_slash = await client.ws_connect("/ws/events/")
    without_slash = await client.ws_connect("/ws/events")
    await client.post("/api/runs/", json=RUN)
    for ws in (with_slash, without_slash):
        assert (await next_message(ws))["type"] == "new_run"
        await ws.close()


async def test_what_a_client_sends_is_ignored_and_it_keeps_receiving(client, subscribe):
    ws = await subscribe()
    await ws.send_str("hello")
    await ws.send_str(json.dumps({"type": "delete_run", "data": {"run_uuid": "run-1"}}))
    await ws.send_bytes(b"\x00\xff binary")
    await ws.ping(b"are you there")
    await no_message(ws, within=0.2)
    await client.post("/api/runs/", json=RUN)
    assert (await next_message(ws))["type"] == "new_run"
    assert not ws.closed


async def test_get_without_upgrade_is_a_json_4xx(client):
    for path in ("/ws/events/", "/ws/events"):
        response = await client.get(path)
        assert 400 <= response.status < 500
        assert response.content_type == "application/json"
        assert "error" in await response.json()


# Subscribers that stop reading, vanish or stop answering


async def test_a_subscriber_that_never_reads_does_not_delay_the_others(
        client, subscribe, connect_non_reader):
    non_reader = await connect_non_reader(client)
    reader = await subscribe()
    await create_run_and_job(client)
    await drain(reader, 2)

    # Until the server cannot hand the non-reader any more: its writer is blocked on send.
    await post_until_backed_up(client, reader, lambda: most_pending(client) >= 3)

    loop = asyncio.get_running_loop()
    for n in range(10):
        started = loop.time()
        async with asyncio.timeout(1.0):
            response = await client.post("/api/events/", json=event_body(f"small-{n}"))
        answered = loop.time()
        message = await next_message(reader, within=1.0)
        received = loop.time()
        assert response.status == 201
        assert message["data"]["event_uuid"] == f"small-{n}"
        assert received - answered < 0.05, "the reader got the message late"
        assert received - started < 0.5
    assert not non_reader.closed


async def test_a_subscriber_that_overflows_its_queue_is_closed_with_4008(
        make_client, connect_non_reader, caplog):
    caplog.set_level(logging.WARNING, logger="armada")
    client = await make_client(ws_queue=5)
    non_reader = await connect_non_reader(client)
    reader = await client.ws_connect("/ws/events/")
    await create_run_and_job(client)
    await drain(reader, 2)
    subscribers = client.app[subscribers_key]

    # The reader receives every one of these, in order.
    await post_until_backed_up(client, reader, lambda: subscribers.dropped > 0)
    assert len(subscribers) == 1

    # The non-reader now reads what the server managed to send, then the close frame.
    async with asyncio.timeout(5):
        while (message := await non_reader.receive()).type not in CLOSING:
            assert message.type == aiohttp.WSMsgType.TEXT
    assert non_reader.close_code == const.WS_CLOSE_OVERFLOW

    await client.post("/api/events/", json=event_body("after-drop"))
    assert (await next_message(reader))["data"]["event_uuid"] == "after-drop"
    assert any("dropping WebSocket subscriber 127.0.0.1#" in record.getMessage()
               for record in caplog.records)
    await reader.close()


async def test_a_batch_of_more_messages_than_the_queue_holds_reaches_a_subscriber_that_reads(
        make_client):
    # Messages queued in one turn of the loop are not unread: the socket keeps up.
    client = await make_client(ws_queue=5)
    reader = await client.ws_connect("/ws/events/")
    await create_run_and_job(client)
    await drain(reader, 2)

    response = await client.post("/api/events/batch", json={
        "events": [event_body(f"batched-{n}") for n in range(20)]})

    assert response.status == 201
    received = [message["data"]["event_uuid"] for message in await drain(reader, 20)]
    assert received == [f"batched-{n}" for n in range(20)]
    assert client.app[subscribers_key].dropped == 0
    await reader.close()


async def test_a_subscriber_whose_unread_messages_pass_the_byte_limit_is_closed_with_4008(
        make_client, connect_non_reader, caplog):
    caplog.set_level(logging.WARNING, logger="armada")
    # Far more messages may wait than the test posts: only their bytes can overflow.
    client = await make_client(ws_queue=MAX_FILL_EVENTS * 2, ws_queue_bytes=4 * len(BIG_CONTENT))
    non_reader = await connect_non_reader(client)
    reader = await client.ws_connect("/ws/events/")
    await create_run_and_job(client)
    await drain(reader, 2)
    subscribers = client.app[subscribers_key]

    await post_until_backed_up(client, reader, lambda: subscribers.dropped > 0)

    async with asyncio.timeout(5):
        while (message := await non_reader.receive()).type not in CLOSING:
            assert message.type == aiohttp.WSMsgType.TEXT
    assert non_reader.close_code == const.WS_CLOSE_OVERFLOW
    dropped = [record.getMessage() for record in caplog.records
               if "dropping WebSocket subscriber" in record.getMessage()]
    assert len(dropped) == 1 and "bytes) not read" in dropped[0], dropped
    await reader.close()


async def test_a_subscriber_that_vanishes_is_dropped_quietly(client, subscribe, caplog):
    caplog.set_level(logging.DEBUG)
    reader = await subscribe()
    _, writer = await open_raw_subscriber(client)
    subscribers = client.app[subscribers_key]
    await eventually(lambda: len(subscribers) == 2)
    await create_run_and_job(client)
    await drain(reader, 2)

    vanish(writer)

    for n in range(20):
        response = await client.post("/api/events/", json=event_body(f"event-{n}"))
        assert response.status == 201
    assert [m["data"]["event_uuid"] for m in await drain(reader, 20)] == [
        f"event-{n}" for n in range(20)]
    await eventually(lambda: len(subscribers) == 1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_subscriber_that_vanishes_with_messages_pending_is_dropped_quietly(
        client, subscribe, caplog):
    caplog.set_level(logging.DEBUG)
    _, writer = await open_raw_subscriber(client)
    reader = await subscribe()
    await create_run_and_job(client)
    await drain(reader, 2)
    await post_until_backed_up(client, reader, lambda: most_pending(client) >= 3)
    subscribers = client.app[subscribers_key]

    vanish(writer)
    await eventually(lambda: len(subscribers) == 1)
    await client.post("/api/events/", json=event_body("after"))
    assert (await next_message(reader))["data"]["event_uuid"] == "after"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# Heartbeat


async def test_the_server_pings_every_subscriber(make_client):
    client = await make_client(ws_heartbeat=0.2)
    ws = await client.ws_connect("/ws/events/", autoping=False)
    message = await ws.receive(timeout=1.0)
    assert message.type == aiohttp.WSMsgType.PING
    await ws.close()


async def test_a_subscriber_that_answers_pings_stays_connected(make_client):
    client = await make_client(ws_heartbeat=0.2)
    ws = await client.ws_connect("/ws/events/")
    await no_message(ws, within=1.0)  # receive() answers each ping meanwhile
    await client.post("/api/runs/", json=RUN)
    assert (await next_message(ws))["type"] == "new_run"
    await ws.close()


async def test_a_subscriber_that_does_not_answer_pings_is_closed(make_client):
    client = await make_client(ws_heartbeat=0.2)
    ws = await client.ws_connect("/ws/events/", autoping=False)
    pings = 0
    async with asyncio.timeout(2.0):
        while (message := await ws.receive()).type not in CLOSING:
            assert message.type == aiohttp.WSMsgType.PING
            pings += 1
    assert pings >= 1
    subscribers = client.app[subscribers_key]
    await eventually(lambda: len(subscribers) == 0)


async def ws_writes(client: TestClient) -> float:
    text = await (await client.get("/metrics")).text()
    return next(float(line.split()[-1]) for line in text.splitlines()
                if line.startswith("armada_ws_writes_total "))


async def test_under_load_messages_within_a_flush_window_leave_in_one_write_and_idle_ones_at_once(
        client: TestClient, subscribe: Callable[..., Awaitable[Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A window long enough that a loaded host's slow requests still fall within it.
    monkeypatch.setattr(const, "WS_FLUSH_WINDOW_SECONDS", 1.0)
    ws = await subscribe()
    loop = asyncio.get_running_loop()

    started = loop.time()
    assert (await client.post("/api/runs/", json=RUN)).status == 201
    first = await next_message(ws)
    idle_delivery = loop.time() - started
    # Each its own request and commit, each right after the first flush: in its window.
    for number in range(2, 5):
        response = await client.post("/api/runs/", json={**RUN, "run_uuid": f"run-{number}"})
        assert response.status == 201
    window_started = loop.time()
    rest = await drain(ws, 3)
    waited = loop.time() - window_started

    assert first["data"]["run_uuid"] == "run-1"
    assert [message["data"]["run_uuid"] for message in rest] == ["run-2", "run-3", "run-4"]
    assert idle_delivery < 0.5  # not held for a window: nothing was flushed before it
    assert waited < 1.5
    assert await ws_writes(client) == 2  # the idle message's write, then one for three
