"""Instances on one database: each keeps a row `instance:<id>` in armada_leases, renewed every
INSTANCE_RENEW_SECONDS and valid for INSTANCE_LEASE_SECONDS, removed when it stops.

Without ARMADA_REDIS_URL an instance delivers only its own changes to its dashboards, so
one that sees another live instance on its database (replicas on one SQL Server, or on one
SQLite file over a network file system) says so: one warning per instance it sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

from aiohttp import web

from armada import const
from armada.background import running
from armada.errors import StoreUnavailable
from armada.keys import config_key, store_key
from armada.store import Store

log = logging.getLogger(__name__)

HOLDER_LENGTH = 255


async def instances_task(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: announce this instance (the first time before the service serves, so
    that the start says what it sees) and keep it announced; forget it at the end."""
    store = app[store_key]
    name = f"instance:{uuid.uuid4()}"
    holder = f"{socket.gethostname()} pid {os.getpid()}"[:HOLDER_LENGTH]
    announce = partial(_announce, store, name, holder, app[config_key].redis_url is None,
                       set())
    await announce()
    async with running(_keep_announcing(announce), "instances"):
        yield
    # Another instance stops seeing this one now, not when its row runs out.
    with contextlib.suppress(StoreUnavailable):
        await store.forget_instance(name)


async def _keep_announcing(announce: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(const.INSTANCE_RENEW_SECONDS)
        await announce()


async def _announce(store: Store, name: str, holder: str, warn: bool, seen: set[str]) -> None:
    """Renew this instance's row; warn (once each) of the other live instances, unless
    ARMADA_REDIS_URL shares every change among them."""
    try:
        await store.announce_instance(name, holder, const.INSTANCE_LEASE_SECONDS)
        others = await store.live_instances(name)
    except StoreUnavailable:
        return  # the store's log says so already
    except Exception:
        log.exception("instances: announcing this one failed")
        return
    new = [other for other in others if other["name"] not in seen]
    seen.update(other["name"] for other in new)
    if warn and new:
        log.warning(
            "another instance of the service is live on this database (%s: %s) and "
            "ARMADA_REDIS_URL is not set: each instance's dashboards miss the others' "
            "changes (docs/operations.md, Several replicas)", store.description,
            ", ".join(other["holder"] for other in new))
