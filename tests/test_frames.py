"""Prebuilt WebSocket frames (`armada.ws.frames`): the same bytes aiohttp would write, and
written straight to the socket only where that is safe."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp._websocket.writer import WebSocketWriter
from helpers import RUN, next_message

from armada.keys import subscribers_key
from armada.ws.frames import FrameSink, text_frame


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()

    def write(self, data: Any) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return False


class IdleProtocol:
    _paused = False


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
async def test_a_text_frame_is_what_aiohttp_writes_for_send_str(size):
    text = "é" * (size // 2) + "x" * (size % 2)
    transport = RecordingTransport()
    writer = WebSocketWriter(IdleProtocol(), transport)  # type: ignore[arg-type]
    await writer.send_frame(text.encode(), aiohttp.WSMsgType.TEXT)
    assert text_frame(text) == bytes(transport.written)


async def _sink_for(aiohttp_client: Any, compress: bool, client_compress: int
                    ) -> tuple[FrameSink | None, aiohttp.ClientWebSocketResponse]:
    sinks: asyncio.Queue[FrameSink | None] = asyncio.Queue()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=compress)
        await ws.prepare(request)
        await sinks.put(FrameSink.of(ws))
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/", compress=client_compress)
    return await sinks.get(), ws


async def test_a_connection_without_compression_gets_a_sink(aiohttp_client):
    sink, ws = await _sink_for(aiohttp_client, compress=True, client_compress=0)
    assert sink is not None and sink.open and not sink.backed_up
    sink.write([text_frame("one"), text_frame("two")])
    assert [(await ws.receive()).data for _ in range(2)] == ["one", "two"]
    await ws.close()


async def test_a_compressed_connection_gets_no_sink(aiohttp_client):
    sink, ws = await _sink_for(aiohttp_client, compress=True, client_compress=15)
    assert sink is None
    await ws.close()


async def test_the_service_never_compresses_so_every_subscriber_gets_the_prebuilt_frame(
        client):
    ws = await client.ws_connect("/ws/events/", compress=15)
    assert not ws.compress
    await client.post("/api/runs/", json=RUN)
    assert (await next_message(ws))["type"] == "new_run"
    subscribers = list(client.app[subscribers_key]._subscribers)
    assert [subscriber._sink is not None for subscriber in subscribers] == [True]
    await ws.close()


async def test_without_a_sink_messages_go_through_send_str_in_order(client, monkeypatch):
    monkeypatch.setattr(FrameSink, "of", classmethod(lambda cls, ws: None))
    ws = await client.ws_connect("/ws/events/")
    await client.post("/api/runs/", json=RUN)
    await client.post("/api/runs/", json={**RUN, "run_uuid": "run-2"})
    assert [(await next_message(ws))["data"]["run_uuid"] for _ in range(2)] == [
        "run-1", "run-2"]
    await ws.close()
