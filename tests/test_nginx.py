"""Behind nginx, as the Armada dashboard is deployed: everything works under `/tracking/`
(prefix stripped), WebSocket upgrade included, the server's pings keep an idle
WebSocket open past nginx's `proxy_read_timeout`, and a dashboard served by that nginx on
any port may open the WebSocket (its own origin) while pages of other hosts may not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from helpers import RUN, event_body, job_body, next_message, no_message
from nginx_proxy import LOCATION, PROXY_READ_TIMEOUT_SECONDS, NginxProxy, readme_location

pytestmark = pytest.mark.external

CLOSING = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


@pytest.fixture
async def start_nginx(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[NginxProxy]]]:
    """Start nginx in front of a running app (`location`: a template of its location
    block); it is stopped after the test."""
    started: list[NginxProxy] = []

    async def start(app_client: TestClient, location: str = LOCATION) -> NginxProxy:
        proxy = NginxProxy(tmp_path / f"nginx-{len(started)}", app_client.server.port,
                           location)
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


# The dashboard's own origin behind nginx on a port other than 80/443

ELSEWHERE = ("https://dashboard.example",)
# A proxy that passes the upstream's address as Host and the browser's in X-Forwarded-Host
# (or RFC 7239 Forwarded), as many proxies other than the platform's do.
FORWARDING_LOCATION = """\
location /tracking/ {{
    proxy_pass http://127.0.0.1:{upstream_port}/;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_set_header X-Forwarded-Host $http_host;
}}
"""
FORWARDED_LOCATION = FORWARDING_LOCATION.replace(
    "X-Forwarded-Host $http_host;", "Forwarded 'host=\"$http_host\";proto=$scheme';")


async def test_the_dashboard_served_by_the_platforms_nginx_on_any_port_gets_live_updates(
        make_client, start_nginx, session):
    app_client = await make_client(cors_origins=ELSEWHERE)
    proxy = await start_nginx(app_client, readme_location())
    assert proxy.port not in (80, 443)
    page = f"http://127.0.0.1:{proxy.port}"  # what a browser at the nginx port sends

    ws = await session.ws_connect(f"{proxy.base_url}/ws/events/", origin=page)
    async with session.post(f"{proxy.base_url}/api/runs/", json=RUN) as response:
        assert response.status == 201
    assert (await next_message(ws))["type"] == "new_run"
    await ws.close()


@pytest.mark.parametrize("origin", [
    "http://localhost:{port}",  # nginx passes Host 127.0.0.1: another host name
    "http://evil.example:{port}",
    "http://evil.example",
])
async def test_behind_the_platforms_nginx_a_page_of_another_host_is_refused(
        make_client, start_nginx, session, origin):
    app_client = await make_client(cors_origins=ELSEWHERE)
    proxy = await start_nginx(app_client, readme_location())

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(f"{proxy.base_url}/ws/events/",
                                 origin=origin.format(port=proxy.port))

    assert refused.value.status == 403


@pytest.mark.parametrize("location", [FORWARDING_LOCATION, FORWARDED_LOCATION],
                         ids=["x-forwarded-host", "forwarded"])
async def test_behind_a_proxy_that_forwards_the_host_the_page_is_recognised_by_it(
        make_client, start_nginx, session, location):
    app_client = await make_client(cors_origins=ELSEWHERE)
    proxy = await start_nginx(app_client, location)
    ws_url = f"{proxy.base_url}/ws/events/"

    ws = await session.ws_connect(ws_url, origin=f"http://127.0.0.1:{proxy.port}")
    await ws.close()
    # Host is the upstream's 127.0.0.1:<app port> here: only the forwarded host names the page.
    for origin in (f"http://localhost:{proxy.port}", f"http://127.0.0.1:{app_client.port}0"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(ws_url, origin=origin)
        assert refused.value.status == 403
