"""Every typed application key, in one place."""

import asyncio
from typing import Any

from aiohttp import web

from armada.broadcast import Broadcaster
from armada.config import Config
from armada.metrics import Metrics
from armada.store import Store

config_key = web.AppKey("config", Config)
store_key = web.AppKey("store", Store)
broadcaster_key = web.AppKey("broadcaster", Broadcaster)
metrics_key = web.AppKey("metrics", Metrics)
# Writes whose request timed out, still running to commit and broadcast (see limits.py).
detached_writes_key = web.AppKey("detached_writes", set[asyncio.Future[Any]])
