"""Probes: `/healthz` (the process answers; no I/O) and `/readyz` (the database answers a
read and takes a write, in time, and writes do not fail)."""

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
    """Ready when an empty read transaction and an empty write transaction both end within
    READY_TIMEOUT_SECONDS: a replica whose writes all fail (another process holding SQLite's
    write lock) is not ready although it reads. The write goes through the store's writer
    like any write, so it takes the write lock (BEGIN IMMEDIATE) only when the writer
    would, and commits with whatever writes wait beside it. An empty write passes where a
    full disk fails every real one: a write that failed inside itself in the last
    READY_AFTER_WRITE_FAILURE_SECONDS, with none committed since, makes it not ready too."""
    store = request.app[store_key]
    writing = False
    try:
        async with asyncio.timeout(const.READY_TIMEOUT_SECONDS):
            await store.ping()
            writing = True
            await store.ping_writes()
    except TimeoutError:
        # A connection attempt can outlast the probe: say what the last one found.
        last = store.availability.reason
        what = ("the database reads, but an empty write did not complete" if writing
                else "the database did not answer")
        why = (f" (database unavailable: {last})" if last else
               " (another connection may hold its write lock)" if writing else "")
        raise NotReady(f"{what} within {const.READY_TIMEOUT_SECONDS:g} s{why}") from None
    except StoreUnavailable as error:
        raise NotReady(("the database reads, but a write failed: " if writing else "")
                       + error.detail) from None
    failing = store.availability.writes_failing(const.READY_AFTER_WRITE_FAILURE_SECONDS)
    if failing is not None:
        raise NotReady(f"the database reads, but writes fail (database unavailable: {failing})")
    return json_response({"status": "ready"})
