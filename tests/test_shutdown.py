"""Graceful shutdown of the real process: on SIGTERM or SIGINT it stops accepting, finishes
the requests in flight, closes every WebSocket with 1001, closes the store and exits 0;
every write it acknowledged is there after a restart."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest
from helpers import RUN, event_body, job_body, next_message
from server_process import START_TIMEOUT, ServiceProcess

pytestmark = pytest.mark.external

CLOSING = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
IN_FLIGHT = 30


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
async def test_a_signal_closes_websockets_with_1001_and_loses_no_acknowledged_write(
        tmp_path: Path, signal_number: int):
    service = ServiceProcess(tmp_path / "armada.db", tmp_path)
    service.start()
    try:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{service.url}/ws/events/")
            assert (await session.post(f"{service.url}/api/runs/", json=RUN)).status == 201
            assert (await session.post(f"{service.url}/api/jobs/", json=job_body())).status == 201
            assert [(await next_message(ws))["type"] for _ in range(2)] == ["new_run", "new_job"]

            async def post(n: int) -> int:
                async with session.post(f"{service.url}/api/events/",
                                        json=event_body(f"event-{n}")) as response:
                    return response.status

            async def read_until_closed() -> None:
                # Reading all along: the client answers the close frame as it reads it.
                async with asyncio.timeout(START_TIMEOUT):
                    while (message := await ws.receive()).type not in CLOSING:
                        assert message.type == aiohttp.WSMsgType.TEXT

            reader = asyncio.create_task(read_until_closed())
            writes = [asyncio.create_task(post(n)) for n in range(IN_FLIGHT)]
            await asyncio.sleep(0.02)
            assert service.process is not None
            service.process.send_signal(signal_number)
            outcomes = await asyncio.gather(*writes, return_exceptions=True)
            await reader
            assert ws.close_code == 1001
            exit_code = await asyncio.to_thread(service.process.wait, START_TIMEOUT)
            assert exit_code == 0

        acknowledged = {f"event-{n}" for n, outcome in enumerate(outcomes) if outcome == 201}
        assert acknowledged, "no write was acknowledged before the signal"
        service.start()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{service.url}/api/events/",
                                   params={"job_uuid": "job-1"}) as response:
                stored = {event["event_uuid"] for event in await response.json()}
        assert acknowledged <= stored
    finally:
        service.stop()
