"""The application factory: builds the aiohttp app from one Config."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from armada import const
from armada.alerts.sender import sending
from armada.changes import Sinks
from armada.config import Config
from armada.http import health
from armada.http.deadlines import Deadlines, deadlines_key, flush_writes
from armada.http.docs import setup_docs
from armada.http.middlewares import refused_before_reading, service_middleware
from armada.http.request_log import add_request_id
from armada.http.routes import setup_routes
from armada.http.security import add_security_headers
from armada.instances import instances_task
from armada.keys import config_key, metrics_key, store_key, stream_key
from armada.lost_jobs import lost_jobs_task
from armada.metrics import Metrics, metrics_handler
from armada.private_api.aiohttp_bad_request import answer_bad_requests_in_json
from armada.private_api.aiohttp_cors_hooks import CorsHeaders, ResponseHook
from armada.retention import retention_task, run_deletions_task
from armada.search_index import search_index_task
from armada.store import Store
from armada.stream.numbering import LocalNumbering, Numbering
from armada.stream.sink import StreamSink
from armada.ws.subscribers import Subscribers, subscribers_key

log = logging.getLogger(__name__)


def init_app(config: Config) -> web.Application:
    metrics = Metrics()
    deadlines = Deadlines(config.request_timeout)
    app = web.Application(middlewares=[service_middleware(metrics, deadlines)],
                          client_max_size=config.max_body)
    # A request aiohttp's parser refuses is answered before any middleware: in JSON too.
    answer_bad_requests_in_json(app, refused_before_reading)
    app[config_key] = config
    app[metrics_key] = metrics
    app[deadlines_key] = deadlines
    subscribers = Subscribers(config.ws_queue, config.ws_queue_bytes)
    app[subscribers_key] = subscribers
    app[stream_key] = StreamSink(_numbering(config, subscribers))
    app.cleanup_ctx.append(_store)
    app.cleanup_ctx.append(_alerts)
    app.cleanup_ctx.append(_numbering_running)
    app.cleanup_ctx.append(retention_task)
    app.cleanup_ctx.append(run_deletions_task)
    app.cleanup_ctx.append(search_index_task)
    app.cleanup_ctx.append(lost_jobs_task)
    app.cleanup_ctx.append(instances_task)
    app.on_shutdown.append(flush_writes)
    app.on_shutdown.append(_close_subscribers)
    routes = setup_routes(app)
    for path, handler in ((const.HEALTH_PATH, health.healthz), (const.READY_PATH, health.readyz),
                          (const.METRICS_PATH, metrics_handler(metrics))):
        for variant in (path, path + "/"):  # as every path: with and without its slash
            app.router.add_get(variant, handler)
    setup_docs(app)
    app.on_response_prepare.append(
        _response_headers(CorsHeaders.setup(app, config.cors_origins, routes)))
    return app


def _response_headers(cors: CorsHeaders) -> ResponseHook:
    """One on_response_prepare hook for the headers of every answer (each hook costs every
    request); CORS's last, so that it can expose ours."""

    async def hook(request: web.BaseRequest, response: web.StreamResponse) -> None:
        add_security_headers(request, response)
        add_request_id(request, response)
        if cors.wanted(request):
            await cors.add(request, response)

    return hook


async def _store(app: web.Application) -> AsyncIterator[None]:
    """The store (one given to the app before it starts is used as it is: a test's)."""
    store = app.get(store_key) or Store(app[config_key])
    app[store_key] = store
    metrics = app[metrics_key]
    store.observe = metrics.observe_operation
    # Every committed change, and every COMMIT of unknown outcome, goes to the stream, then
    # to the metrics' counts.
    store.sink = Sinks(app[stream_key], metrics.changes)
    metrics.read_from(app[subscribers_key], app[stream_key].numbering, store)
    try:
        await store.open()
    except BaseException:
        await store.close()
        raise
    yield
    await store.close()


def _numbering(config: Config, subscribers: Subscribers) -> Numbering:
    """This process's numbering, or with ARMADA_REDIS_URL the deployment's, delivering to
    this process's subscribers."""
    if config.redis_url is None:
        return LocalNumbering(config.ws_buffer, subscribers.deliver,
                              buffer_bytes=config.ws_buffer_bytes)
    from armada.stream.redis_numbering import RedisNumbering  # Redis only when configured

    return RedisNumbering(config.redis_url, config.ws_buffer, subscribers.deliver,
                          ring_bytes=config.ws_buffer_bytes)


async def _numbering_running(app: web.Application) -> AsyncIterator[None]:
    """Closed before the store (cleanup runs in reverse), after the last in-flight request
    has published."""
    numbering = app[stream_key].numbering
    await numbering.start()
    yield
    await numbering.close()


async def _close_subscribers(app: web.Application) -> None:
    await app[subscribers_key].close()


async def _alerts(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the alerts' sender, with ARMADA_ALERTS_FILE (armada/alerts/)."""
    settings = app[config_key].alerts
    if settings is None:
        yield
        return
    async with sending(settings, app[store_key], app[metrics_key].registry):
        yield
