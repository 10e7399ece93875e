"""Probes: `/healthz` (the process answers; no I/O) and `/readyz` (the database answers in time)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from armada import const
from armada.errors import NotReady, StoreUnavailable
from armada.http.parsing import json_response
from armada.keys import store_key


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    store = request.app[store_key]
    try:
        async with asyncio.timeout(const.READY_TIMEOUT_SECONDS):
            await store.ping()
    except TimeoutError:
        # A connection attempt can outlast the probe: say what the last one found.
        last = store.availability.reason
        raise NotReady(
            f"the database did not answer within {const.READY_TIMEOUT_SECONDS:g} s"
            + (f" (database unavailable: {last})" if last else "")
        ) from None
    except StoreUnavailable as error:
        raise NotReady(error.detail) from None
    return json_response({"status": "ready"})
