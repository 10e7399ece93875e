"""Behind nginx, as the Armada dashboard is deployed: everything works under `/tracking/`
(prefix stripped), WebSocket upgrade included, and the server's pings keep an idle
WebSocket open past nginx's `proxy_read_timeout`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from helpers import RUN, event_body, job_body, next_message, no_message
from nginx_proxy import PROXY_READ_TIMEOUT_SECONDS, NginxProxy

CLOSING = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


@pytest.fixture
async def start_nginx(tmp_path: Path) -> AsyncIterator[Callable[[TestClient],
                                                                Awaitable[NginxProxy]]]:
    """Start nginx in front of a running app; it is stopped after the test."""
    started: list[NginxProxy] = []

    async def start(app_client: TestClient) -> NginxProxy:
        proxy = NginxProxy(tmp_path / f"nginx-{len(started)}", app_client.server.port)
        started.append(proxy)
        await proxy.start()
        return proxy

    yield start
    for proxy in started:
        await proxy.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_rest_calls_work_under_the_tracking_prefix(client, start_nginx, session):
    proxy = await start_nginx(client)
    base = proxy.base_url

    async with session.post(f"{base}/api/runs/", json=RUN) as response:
        assert response.status == 201
        assert await response.json() == {"run_uuid": "run-1",
                                         "run_datetime": "2026-02-24T10:30:00.000Z"}
    async with session.post(f"{base}/api/runs", json=RUN) as response:
        assert response.status == 200
    async with session.post(f"{base}/api/jobs/", json=job_body()) as response:
        assert response.status == 201
    async with session.post(f"{base}/api/jobs", json=job_body("job-2")) as response:
        assert response.status == 201
    async with session.post(f"{base}/api/events/", json=event_body()) as response:
        assert response.status == 201
    async with session.post(f"{base}/api/events", json=event_body("event-2")) as response:
        assert response.status == 201
    async with session.patch(f"{base}/api/jobs/status",
                             json={"job_uuid": "job-1", "job_status": "Success"}) as response:
        assert await response.json() == {"ok": True}

    for slash in ("/", ""):
        async with session.get(f"{base}/api/runs{slash}") as response:
            assert response.status == 200
            assert [run["run_uuid"] for run in (await response.json())["runs"]] == ["run-1"]
        async with session.get(f"{base}/api/jobs{slash}?run_uuid=run-1") as response:
            body = await response.json()
            assert body["total"] == 2
            assert {job["job_uuid"]: job["job_status"] for job in body["jobs"]} == {
                "job-1": "Success", "job-2": "Running"}
        async with session.get(f"{base}/api/events{slash}?job_uuid=job-1") as response:
            assert {event["event_uuid"] for event in await response.json()} == {
                "event-1", "event-2"}
    orphan = event_body("event-3", job_uuid="no-such-job")
    async with session.post(f"{base}/api/events/", json=orphan) as response:
        assert response.status == 404
        assert (await response.json())["error"]


async def test_websocket_upgrade_through_nginx_receives_broadcasts(client, start_nginx,
                                                                   session):
    proxy = await start_nginx(client)
    with_slash = await session.ws_connect(f"{proxy.base_url}/ws/events/")
    without_slash = await session.ws_connect(f"{proxy.base_url}/ws/events")
    async with session.post(f"{proxy.base_url}/api/jobs/", json=job_body()) as response:
        job = await response.json()
    for ws in (with_slash, without_slash):
        assert (await next_message(ws))["type"] == "new_run"
        assert await next_message(ws) == {"type": "new_job", "data": job}
        await ws.close()


async def test_server_pings_keep_an_idle_websocket_open_through_nginx(make_client, start_nginx,
                                                                      session):
    app_client = await make_client(ws_heartbeat=0.5)
    proxy = await start_nginx(app_client)
    ws = await session.ws_connect(f"{proxy.base_url}/ws/events/")
    # Silent (but for pings, answered by receive()) for longer than proxy_read_timeout.
    await no_message(ws, within=PROXY_READ_TIMEOUT_SECONDS + 1.5)
    assert not ws.closed
    async with session.post(f"{proxy.base_url}/api/runs/", json=RUN) as response:
        assert response.status == 201
    assert (await next_message(ws))["type"] == "new_run"
    await ws.close()


async def test_without_pings_nginx_closes_an_idle_websocket(make_client, start_nginx, session):
    """The control for the test above: it shows that test can fail."""
    app_client = await make_client(ws_heartbeat=10.0)
    proxy = await start_nginx(app_client)
    ws = await session.ws_connect(f"{proxy.base_url}/ws/events/")
    loop = asyncio.get_running_loop()
    opened = loop.time()
    async with asyncio.timeout(PROXY_READ_TIMEOUT_SECONDS + 2):
        message = await ws.receive()
    assert message.type in CLOSING
    assert loop.time() - opened >= PROXY_READ_TIMEOUT_SECONDS - 0.1
