"""The WebSocket endpoint `/ws/events/`: the handshake, the subscriber's lifetime and heartbeat.

What the messages mean, how resume and filters work: `armada.stream`; each subscriber's queue
and writer: `armada.ws.subscribers`.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging

from aiohttp import WSCloseCode, web

from armada import const
from armada.errors import ApiError, UpgradeRequired
from armada.http.parsing import load_query
from armada.http.schemas import stream_query
from armada.keys import config_key, store_key, stream_key
from armada.stream.filters import StreamFilter, stream_request
from armada.ws.subscribers import subscribers_key

log = logging.getLogger(__name__)

_connection_numbers = itertools.count(1)


async def events_stream(request: web.Request) -> web.WebSocketResponse:
    """Subscribe the client to the stream (resumed, filtered as its query asks); what it
    sends is read and ignored. A malformed query is a 422, a request that is not a WebSocket
    handshake a 426, both before the upgrade."""
    query = load_query(request, stream_query)
    cursor, stream_filter = stream_request(query)
    # aiohttp pings every `heartbeat` seconds and closes a peer that does not answer.
    # No per-message compression: every subscriber is then sent the same prebuilt frame
    # (armada.private_api.aiohttp_frames) instead of a zlib pass per message per subscriber.
    ws = web.WebSocketResponse(heartbeat=request.app[config_key].ws_heartbeat, compress=False,
                               max_msg_size=const.WS_MAX_INCOMING_MESSAGE_BYTES)
    if not ws.can_prepare(request).ok:
        raise UpgradeRequired(
            f"{request.path} is a WebSocket: connect with a WebSocket client (a GET with "
            "Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Key and "
            "Sec-WebSocket-Version: 13)")
    subscribers = request.app[subscribers_key]
    if stream_filter.job_uuid is not None and stream_filter.run_uuid is None:
        stream_filter = await _with_run_of_job(request, stream_filter)
    await ws.prepare(request)
    name = f"{request.remote}#{next(_connection_numbers)}"
    transport = request.transport
    abort = transport.abort if transport is not None else lambda: None
    subscriber = None
    try:
        # Registered before the backlog is read: nothing numbered in between is missed, and
        # what both hold is sent once.
        subscriber = subscribers.add(ws, name, abort, stream_filter, query["grouped"])
        subscriber.start(await request.app[stream_key].numbering.backlog(cursor))
        log.debug("subscriber %s connected", name)
        async for _message in ws:
            pass
    finally:
        if subscriber is not None:
            subscribers.remove(subscriber)
            await subscriber.close(WSCloseCode.OK, "")
        log.debug("subscriber %s disconnected", name)
    return ws


async def _with_run_of_job(request: web.Request, stream_filter: StreamFilter) -> StreamFilter:
    """A job filter also takes the delete_run of the job's run (every delete_run when the
    run cannot be found out now): the one lookup a filter needs, once per connection."""
    try:
        job = await request.app[store_key].get_job(stream_filter.job_uuid or "")
    except ApiError:
        return stream_filter
    return dataclasses.replace(stream_filter, job_run_uuid=job["run_uuid"])
