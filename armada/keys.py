"""Every typed application key, in one place."""

from aiohttp import web

from armada.config import Config
from armada.metrics import Metrics
from armada.store import Store
from armada.stream.sink import StreamSink
from armada.ws.subscribers import Subscribers

config_key = web.AppKey("config", Config)
store_key = web.AppKey("store", Store)
stream_key = web.AppKey("stream", StreamSink)
subscribers_key = web.AppKey("subscribers", Subscribers)
metrics_key = web.AppKey("metrics", Metrics)
