"""The request timeout: 503 with Retry-After on time, for the deadline only; a write cut by
it still commits and broadcasts; a streamed answer is timed until its first byte; the
WebSocket is not subject to it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncGenerator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from helpers import RUN, next_message

from armada import const
from armada.app import init_app
from armada.config import Config, SqliteSettings
from armada.http.parsing import json_list_response

TIMEOUT = 0.3


@pytest.fixture
def database(sqlite_path: Path) -> SqliteSettings:
    return SqliteSettings(path=sqlite_path)


async def assert_timed_out(response: Any) -> None:
    assert response.status == 503
    assert response.headers["Retry-After"] == str(const.RETRY_AFTER_SECONDS)
    body = await response.json()
    assert body["error"] == "request_timeout"


def app_with(config: Config, **handlers: Any) -> web.Application:
    """The service with a short request timeout and test handlers at `/<name>`."""
    app = init_app(replace(config, request_timeout=TIMEOUT))
    for name, handler in handlers.items():
        app.router.add_get(f"/{name}", handler)
    return app


async def test_a_slow_read_is_cut_with_503(aiohttp_client: Any, config: Config) -> None:
    finished = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        finished.set()
        return web.json_response({})

    client = await aiohttp_client(app_with(config, slow=slow))

    started = time.monotonic()
    response = await client.get("/slow")

    await assert_timed_out(response)
    # Cut at the limit, not before it (slack after it for a busy host).
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 0.5
    assert not finished.is_set()


async def test_requests_in_flight_are_each_cut_at_their_own_deadline(aiohttp_client: Any,
                                                                  config: Config) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    client = await aiohttp_client(app_with(config, slow=slow))

    async def timed_get() -> float:
        started = time.monotonic()
        await assert_timed_out(await client.get("/slow"))
        return time.monotonic() - started

    requests = []
    for _ in range(3):
        requests.append(asyncio.ensure_future(timed_get()))
        await asyncio.sleep(TIMEOUT / 3)
    for elapsed in await asyncio.gather(*requests):
        assert TIMEOUT <= elapsed < TIMEOUT + 0.5


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


async def test_a_handler_that_answers_after_the_cut_is_answered(aiohttp_client: Any,
                                                                config: Config) -> None:
    async def shrugs(request: web.Request) -> web.Response:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            pass  # a handler may finish its answer anyway
        await asyncio.sleep(0)  # and await again: the cut is not delivered twice
        return web.json_response({"finished": True})

    client = await aiohttp_client(app_with(config, shrugs=shrugs))

    response = await client.get("/shrugs")
    assert response.status == 200
    assert await response.json() == {"finished": True}


async def test_only_the_deadline_becomes_a_503(aiohttp_client: Any, config: Config) -> None:
    handlers: asyncio.Queue[asyncio.Task[Any]] = asyncio.Queue()

    async def own_timeout(request: web.Request) -> web.Response:
        async with asyncio.timeout(0.01):  # a wait the handler bounds itself
            await asyncio.sleep(5)
        return web.json_response({})

    async def lingers(request: web.Request) -> web.Response:
        task = asyncio.current_task()
        assert task is not None
        handlers.put_nowait(task)
        try:
            await asyncio.sleep(5)
        finally:
            await asyncio.sleep(5)  # a clean-up that takes its time after a cut
        return web.json_response({})

    client = await aiohttp_client(app_with(config, own_timeout=own_timeout, lingers=lingers))

    response = await client.get("/own_timeout")
    assert response.status == 500
    assert (await response.json())["error"] == "internal_error"

    # A cancellation from elsewhere (shutdown, a client gone) stays one, before the deadline
    # and after it: the handler ends without an answer, not with a 503.
    for delay in (0.01, 2 * TIMEOUT):
        request = asyncio.ensure_future(client.get("/lingers"))
        handler = await handlers.get()
        await asyncio.sleep(delay)
        handler.cancel()
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await request
        assert handler.cancelled()


async def slow_list(first_chunk_after: float, then_after: float
                    ) -> AsyncGenerator[list[int], None]:
    await asyncio.sleep(first_chunk_after)
    yield [1]
    yield [2]  # json_list_response reads two chunks before it begins
    await asyncio.sleep(then_after)
    yield [3]


async def test_a_streamed_answer_is_timed_until_its_first_byte_only(aiohttp_client: Any,
                                                                   config: Config) -> None:
    async def quick_start(request: web.Request) -> web.StreamResponse:
        return await json_list_response(request, slow_list(0, 2 * TIMEOUT))

    async def late_start(request: web.Request) -> web.StreamResponse:
        return await json_list_response(request, slow_list(2 * TIMEOUT, 0))

    client = await aiohttp_client(app_with(config, quick_start=quick_start,
                                           late_start=late_start))

    begun = await client.get("/quick_start")
    assert begun.status == 200
    assert await begun.json() == [1, 2, 3]
    await assert_timed_out(await client.get("/late_start"))
