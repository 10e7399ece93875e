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
from collections.abc import AsyncIterator

from aiohttp import web

from armada import const
from armada.background import running
from armada.errors import StoreUnavailable
from armada.keys import config_key, store_key
from armada.store import Store

log = logging.getLogger(__name__)

HOLDER_LENGTH = 255


async def instances_task(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: announce this instance while the service runs; forget it at the end."""
    store = app[store_key]
    config = app[config_key]
    name = f"instance:{uuid.uuid4()}"
    holder = f"{socket.gethostname()} pid {os.getpid()}"[:HOLDER_LENGTH]
    warn = config.redis_url is None
    async with running(_keep_announcing(store, name, holder, warn), "instances"):
        yield
    # Another instance stops seeing this one now, not when its row runs out.
    with contextlib.suppress(StoreUnavailable):
        await store.forget_instance(name)


async def _keep_announcing(store: Store, name: str, holder: str, warn: bool) -> None:
    seen: set[str] = set()
    while True:
        try:
            await store.announce_instance(name, holder, const.INSTANCE_LEASE_SECONDS)
            others = await store.live_instances(name)
        except StoreUnavailable:
            pass  # the store's log says so already
        except Exception:
            log.exception("instances: announcing this one failed")
        else:
            new = [other for other in others if other["name"] not in seen]
            seen.update(other["name"] for other in new)
            if warn and new:
                log.warning(
                    "another instance of the service is live on this database (%s: %s) and "
                    "ARMADA_REDIS_URL is not set: each instance's dashboards miss the others' "
                    "changes (README, Several replicas)", store.description,
                    ", ".join(other["holder"] for other in new))
        await asyncio.sleep(const.INSTANCE_RENEW_SECONDS)
