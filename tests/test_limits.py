"""The request timeout: 503 with Retry-After on time; a write cut by it still commits and
broadcasts; the WebSocket is not subject to it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from helpers import RUN, next_message

from armada import const
from armada.app import init_app
from armada.config import Config, SqliteSettings
from armada.errors import RequestTimeout
from armada.http.deadlines import Deadlines, timeout_middleware

TIMEOUT = 0.3


@pytest.fixture
def database(sqlite_path: Path) -> SqliteSettings:
    return SqliteSettings(path=sqlite_path)


async def assert_timed_out(response: Any) -> None:
    assert response.status == 503
    assert response.headers["Retry-After"] == str(const.RETRY_AFTER_SECONDS)
    body = await response.json()
    assert body["error"] == "request_timeout"


async def test_a_slow_read_is_cut_with_503(aiohttp_client: Any, config: Config) -> None:
    finished = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        finished.set()
        return web.json_response({})

    app = init_app(replace(config, request_timeout=TIMEOUT))
    app.router.add_get("/slow", slow)
    client = await aiohttp_client(app)

    started = time.monotonic()
    response = await client.get("/slow")

    await assert_timed_out(response)
    # Cut at the first tick of the deadline timer after TIMEOUT - tick (slack for a busy host).
    tick = Deadlines(TIMEOUT).tick
    assert TIMEOUT - tick <= time.monotonic() - started < TIMEOUT + 0.5
    assert not finished.is_set()


async def test_a_write_cut_by_the_timeout_still_commits_and_broadcasts(
        make_client: Any, sqlite_path: Path) -> None:
    client = await make_client(request_timeout=TIMEOUT, db_timeout=5.0)
    ws = await client.ws_connect("/ws/events/")
    assert (await client.get("/api/runs/")).status == 200  # the schema exists
    locker = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        await assert_timed_out(await client.post("/api/runs/", json=RUN))
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    assert (await next_message(ws))["type"] == "new_run"
    assert (await client.post("/api/runs/", json=RUN)).status == 200
    await ws.close()


async def test_the_websocket_outlives_the_request_timeout(make_client: Any) -> None:
    client = await make_client(request_timeout=0.1)
    ws = await client.ws_connect("/ws/events/")
    await asyncio.sleep(0.4)

    assert (await client.post("/api/runs/", json=RUN)).status == 201
    assert (await next_message(ws))["type"] == "new_run"
    await ws.close()


async def cancelling_after(call: Any) -> tuple[Any, int]:
    """What `call` ends with, and how many cancellations of its task are left pending."""
    try:
        outcome = await call
    except (RequestTimeout, asyncio.CancelledError) as error:
        outcome = type(error)
    task = asyncio.current_task()
    assert task is not None
    return outcome, task.cancelling()


async def test_only_the_deadline_becomes_a_503_and_its_cancellation_is_taken_back() -> None:
    deadlines = Deadlines(0.1)
    middleware = timeout_middleware(deadlines)
    request = make_mocked_request("GET", "/api/runs/")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.json_response({})

    async def shrugs(request: web.Request) -> web.Response:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass  # a handler may finish its answer anyway
        return web.json_response({"finished": True})

    assert await cancelling_after(middleware(request, slow)) == (RequestTimeout, 0)
    outcome, cancelling = await cancelling_after(middleware(request, shrugs))
    assert (outcome.status, cancelling) == (200, 0)

    async def lingers(request: web.Request) -> web.Response:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(10)  # a clean-up that takes its time after the cut
        return web.json_response({})

    # A cancellation from elsewhere (shutdown, a client gone) stays one: before the deadline,
    # and after it while the handler still runs.
    for handler, delay in ((slow, 0.01), (lingers, 0.3)):
        elsewhere = asyncio.ensure_future(cancelling_after(middleware(request, handler)))
        await asyncio.sleep(delay)
        elsewhere.cancel()
        assert (await elsewhere)[0] is asyncio.CancelledError, handler

    # Quick requests in between are not cut, and nothing is left watched.
    quick = [middleware(request, lambda request: asyncio.sleep(0, web.json_response({})))
             for _ in range(100)]
    assert all(response.status == 200 for response in await asyncio.gather(*quick))
    assert not deadlines._due
