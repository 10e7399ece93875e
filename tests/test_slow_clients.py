"""Slow clients against the real `armada serve` (a child process) over real sockets: a
connection that has not sent a complete request head within ARMADA_HEADER_TIMEOUT is
closed, and beyond ARMADA_MAX_CONNECTIONS open connections new ones get a 503 JSON error,
with one log line, until some close."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from helpers import RUN, next_message
from server_process import ServiceProcess

from armada import const

pytestmark = pytest.mark.external

HEAD = b"GET /api/runs/ HTTP/1.1\r\nHost: armada\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
LIMIT_LINE = "connection limit reached"

StartService = Callable[..., Awaitable[ServiceProcess]]


@pytest.fixture
async def start_service(tmp_path: Path) -> AsyncIterator[StartService]:
    started: list[ServiceProcess] = []

    async def start(**variables: str) -> ServiceProcess:
        service = ServiceProcess(tmp_path / "armada.db", tmp_path, **variables)
        await asyncio.to_thread(service.start)
        started.append(service)
        return service

    yield start
    for service in started:
        await asyncio.to_thread(service.stop)


def log_of(service: ServiceProcess) -> str:
    """Stop the service and return what it logged (WARNING and above)."""
    assert service.process is not None and service.process.stderr is not None
    service.process.terminate()
    service.process.wait(timeout=15)
    return service.process.stderr.read().decode()


async def trickle(port: int, interval: float, limit: float
                  ) -> tuple[float, int, bytes]:
    """Send HEAD one byte per `interval` seconds; stop when the server closes the connection
    (or after `limit` seconds). Seconds until closed, bytes sent, what the server sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    sent = 0
    answer = b""
    try:
        for byte in HEAD:
            writer.write(bytes([byte]))
            await writer.drain()
            sent += 1
            try:
                async with asyncio.timeout(interval):
                    answer = await reader.read(65536)
                break  # the server answered or closed
            except TimeoutError:
                if time.monotonic() - started > limit:
                    break
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - started, sent, answer


async def raw_get(port: int, path: str = "/healthz") -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection, read to its end: status, headers, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: armada\r\nConnection: close\r\n\r\n".encode())
    async with asyncio.timeout(5):
        raw = await reader.read(-1)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in
               (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


async def test_a_connection_that_trickles_its_request_head_is_closed_after_the_header_timeout(
        start_service):
    service = await start_service(ARMADA_HEADER_TIMEOUT="1")
    slow = asyncio.create_task(trickle(service.port, interval=0.2, limit=10))

    # Meanwhile a prompt client is answered at once.
    await asyncio.sleep(0.3)
    started = time.monotonic()
    status, _, _ = await raw_get(service.port)
    assert status == 200 and time.monotonic() - started < 0.5

    closed_after, sent, answer = await slow
    assert 0.9 <= closed_after < 2.0, closed_after
    assert 3 <= sent < len(HEAD)  # bytes kept coming: the head's time is not reset by them
    assert answer == b""  # closed, nothing echoed


async def test_a_trickle_at_one_byte_per_second_is_cut_too(start_service):
    service = await start_service(ARMADA_HEADER_TIMEOUT="2")
    results = await asyncio.gather(*(trickle(service.port, interval=1.0, limit=10)
                                     for _ in range(20)))
    assert all(1.9 <= closed_after < 3.5 for closed_after, _, _ in results), results


async def test_a_keep_alive_connection_is_answered_then_closed_when_idle_past_the_timeout(
        start_service):
    service = await start_service(ARMADA_HEADER_TIMEOUT="1")
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    for _ in range(3):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: armada\r\n\r\n")
        async with asyncio.timeout(2):
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
            head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
            length = int(head.split("content-length:")[1].split("\r\n")[0])
            await reader.readexactly(length)
        await asyncio.sleep(0.5)  # idle, but less than the timeout each time
    started = time.monotonic()
    async with asyncio.timeout(3):
        assert await reader.read() == b""
    assert time.monotonic() - started < 1.0
    writer.close()


async def test_a_websocket_stays_open_past_the_header_timeout(start_service):
    service = await start_service(ARMADA_HEADER_TIMEOUT="0.5")
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{service.url}/ws/events/")
        await asyncio.sleep(1.5)
        async with session.post(f"{service.url}/api/runs/", json=RUN) as response:
            assert response.status == 201
        assert (await next_message(ws))["type"] == "new_run"
        await ws.close()


@pytest.mark.slow
async def test_beyond_the_connection_limit_new_connections_get_503_and_one_log_line(
        start_service):
    service = await start_service(ARMADA_MAX_CONNECTIONS="5", ARMADA_HEADER_TIMEOUT="2")
    slow = [asyncio.create_task(trickle(service.port, interval=0.2, limit=10))
            for _ in range(5)]
    await asyncio.sleep(0.5)

    for _ in range(3):
        status, headers, body = await raw_get(service.port, "/api/runs/")
        assert status == 503
        assert headers["content-type"] == "application/json"
        assert headers["retry-after"] == str(const.RETRY_AFTER_SECONDS)
        error = json.loads(body)
        assert error["error"] == "too_many_connections"
        assert "ARMADA_MAX_CONNECTIONS" in error["detail"]

    # The slow ones are cut at the header timeout; then new connections are served again.
    await asyncio.gather(*slow)
    status, _, body = await raw_get(service.port, "/api/runs/")
    assert status == 200 and json.loads(body)["runs"] == []

    lines = [line for line in log_of(service).splitlines() if LIMIT_LINE in line]
    assert len(lines) == 1, lines
    assert "WARNING" in lines[0] and "5 connections open" in lines[0]
    assert "ARMADA_MAX_CONNECTIONS=5" in lines[0]


@pytest.mark.slow
async def test_connections_refused_and_cut_leave_the_service_serving_normally(start_service):
    service = await start_service(ARMADA_MAX_CONNECTIONS="20", ARMADA_HEADER_TIMEOUT="1")
    slow = [asyncio.create_task(trickle(service.port, interval=0.2, limit=10))
            for _ in range(40)]
    await asyncio.gather(*slow)
    async with aiohttp.ClientSession() as session:
        for _ in range(30):
            async with session.get(f"{service.url}/api/runs/") as response:
                assert response.status == 200
