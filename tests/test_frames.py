"""Frames written below aiohttp's WebSocket API (`armada.private_api.aiohttp_frames`): the same
bytes as aiohttp's own `send_str`, and the same back-pressure."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import struct
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from helpers import RUN, next_message

from armada.private_api import aiohttp_frames
from armada.private_api.aiohttp_frames import FrameSink, text_frame
from armada.ws.subscribers import subscribers_key


async def raw_websocket(server: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket client that reads bytes only when asked: the handshake, then nothing."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(f"GET / HTTP/1.1\r\nHost: {server.host}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    async with asyncio.timeout(5):
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return reader, writer


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """One whole unmasked frame, as the bytes that came over the socket."""
    head = await reader.readexactly(2)
    size, extended = head[1] & 0x7F, b""
    if size == 126:
        extended = await reader.readexactly(2)
        size = struct.unpack("!H", extended)[0]
    elif size == 127:
        extended = await reader.readexactly(8)
        size = struct.unpack("!Q", extended)[0]
    return head + extended + await reader.readexactly(size)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
async def test_a_text_frame_is_the_bytes_aiohttp_send_str_writes(aiohttp_server: Any,
                                                                 size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)  # as the service's
        await ws.prepare(request)
        await ws.send_str(text)  # the public path
        sink = FrameSink.of(ws)
        assert sink is not None
        sink.write([text_frame(text)])
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aiohttp_server(app)
    # A client of raw bytes: what arrives is exactly what each path wrote to the socket.
    reader, writer = await raw_websocket(server)
    try:
        async with asyncio.timeout(5):
            through_send_str, through_sink = await read_frame(reader), await read_frame(reader)
    finally:
        writer.close()
    assert through_sink == through_send_str == text_frame(text)


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


async def test_a_connection_without_compression_gets_a_sink(aiohttp_client: Any) -> None:
    # None here on the pinned aiohttp means its private writer moved: read aiohttp_frames.py.
    sink, ws = await _sink_for(aiohttp_client, compress=True, client_compress=0)
    assert sink is not None and sink.open and not sink.backed_up
    sink.write([text_frame("one"), text_frame("two")])
    assert [(await ws.receive()).data for _ in range(2)] == ["one", "two"]
    await ws.close()


async def test_a_compressed_connection_gets_no_sink(aiohttp_client: Any) -> None:
    sink, ws = await _sink_for(aiohttp_client, compress=True, client_compress=15)
    assert sink is None
    await ws.close()


async def test_the_sink_waits_while_the_socket_is_backed_up(aiohttp_server: Any) -> None:
    sinks: asyncio.Queue[FrameSink | None] = asyncio.Queue()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        await sinks.put(FrameSink.of(ws))
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    reader, writer = await raw_websocket(await aiohttp_server(app))
    sink = await sinks.get()
    assert sink is not None and not sink.backed_up
    # More than the kernel's socket buffers hold while the client reads nothing: the
    # transport pauses its protocol, as it does for aiohttp's own writes.
    frame = text_frame("x" * (32 * 1024 * 1024))
    sink.write([frame])
    assert sink.backed_up
    drained = asyncio.ensure_future(sink.drain())
    await asyncio.sleep(0.1)
    assert not drained.done()

    try:
        async with asyncio.timeout(10):
            assert await read_frame(reader) == frame
            await drained
    finally:
        writer.close()
    assert not sink.backed_up


async def test_a_writer_not_where_aiohttp_kept_it_falls_back_to_send_str_with_a_warning(
        aiohttp_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    sinks: asyncio.Queue[FrameSink | None] = asyncio.Queue()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        writer = ws._writer
        ws._writer = None  # as an aiohttp that keeps it elsewhere
        await sinks.put(FrameSink.of(ws))
        ws._writer = writer
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    aiohttp_frames._warn_private_api_missing.cache_clear()
    with caplog.at_level(logging.WARNING, logger=aiohttp_frames.__name__):
        ws = await client.ws_connect("/")
        assert await sinks.get() is None
    assert "goes through send_str" in caplog.text
    await ws.close()


async def test_the_service_never_compresses_so_every_subscriber_gets_the_prebuilt_frame(
        client: Any) -> None:
    ws = await client.ws_connect("/ws/events/", compress=15)
    assert not ws.compress
    await client.post("/api/runs/", json=RUN)
    assert (await next_message(ws))["type"] == "new_run"
    subscribers = list(client.app[subscribers_key]._subscribers)
    assert [subscriber._sink is not None for subscriber in subscribers] == [True]
    await ws.close()


async def test_without_a_sink_messages_go_through_send_str_in_order(
        client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FrameSink, "of", classmethod(lambda cls, ws: None))
    ws = await client.ws_connect("/ws/events/")
    await client.post("/api/runs/", json=RUN)
    await client.post("/api/runs/", json={**RUN, "run_uuid": "run-2"})
    assert [(await next_message(ws))["data"]["run_uuid"] for _ in range(2)] == [
        "run-1", "run-2"]
    await ws.close()
