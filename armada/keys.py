"""Every typed application key, in one place."""

from aiohttp import web

from armada.broadcast import Broadcaster
from armada.config import Config
from armada.metrics import Metrics
from armada.store import Store

config_key = web.AppKey("config", Config)
store_key = web.AppKey("store", Store)
broadcaster_key = web.AppKey("broadcaster", Broadcaster)
metrics_key = web.AppKey("metrics", Metrics)
