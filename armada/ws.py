"""The WebSocket transport of `/ws/events/`: connection lifecycle and heartbeat."""

from __future__ import annotations

import itertools
import logging

from aiohttp import WSCloseCode, web

from armada.keys import broadcaster_key, config_key

log = logging.getLogger(__name__)

MAX_INCOMING_MESSAGE_BYTES = 64 * 1024
_connection_numbers = itertools.count(1)


async def events_stream(request: web.Request) -> web.WebSocketResponse:
    """Subscribe the client to every broadcast; what it sends is read and ignored."""
    config = request.app[config_key]
    broadcaster = request.app[broadcaster_key]
    # aiohttp pings every `heartbeat` seconds and closes a peer that does not answer.
    ws = web.WebSocketResponse(heartbeat=config.ws_heartbeat,
                               max_msg_size=MAX_INCOMING_MESSAGE_BYTES)
    await ws.prepare(request)
    name = f"{request.remote}#{next(_connection_numbers)}"
    transport = request.transport
    subscriber = broadcaster.subscribe(
        ws, name, abort=transport.abort if transport is not None else lambda: None
    )
    log.debug("subscriber %s connected", name)
    try:
        async for _message in ws:
            pass
    finally:
        broadcaster.unsubscribe(subscriber)
        await subscriber.close(WSCloseCode.OK, "")
        log.debug("subscriber %s disconnected", name)
    return ws
