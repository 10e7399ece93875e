"""The typed application keys of what the app is built from: configuration, store, stream,
metrics. The WebSocket transport's own key is beside it (armada.ws.subscribers), so that
this module, imported by every handler, imports nothing from a layer above."""

from aiohttp import web

from armada.config import Config
from armada.metrics import Metrics
from armada.store import Store
from armada.stream.sink import StreamSink

config_key = web.AppKey("config", Config)
store_key = web.AppKey("store", Store)
stream_key = web.AppKey("stream", StreamSink)
metrics_key = web.AppKey("metrics", Metrics)
