"""The application factory: builds the aiohttp app from one Config."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import aiohttp_cors
from aiohttp import hdrs, web

from armada import const, health
from armada.auth import access_middleware
from armada.broadcast import Broadcaster
from armada.config import Config
from armada.docs import setup_docs
from armada.keys import broadcaster_key, config_key, metrics_key, store_key
from armada.limits import Deadlines, flush_writes, timeout_middleware
from armada.metrics import Metrics, metrics_handler
from armada.middlewares import error_middleware
from armada.request_log import add_request_id, request_log_middleware
from armada.retention import retention_task
from armada.routes import setup_routes
from armada.security import add_security_headers
from armada.store import Store
from armada.stream import COMMIT_UNKNOWN

log = logging.getLogger(__name__)

ResponseHook = Callable[[web.BaseRequest, web.StreamResponse], Awaitable[None]]


def init_app(config: Config) -> web.Application:
    metrics = Metrics()
    # Outermost first: the log line and the metrics see the final status of every request.
    # Few layers on purpose: each one costs every request (README, Performance).
    middlewares = [
        request_log_middleware(metrics), error_middleware, access_middleware,
        timeout_middleware(Deadlines(config.request_timeout)),
    ]
    app = web.Application(middlewares=middlewares, client_max_size=config.max_body)
    app[config_key] = config
    app[metrics_key] = metrics
    app[broadcaster_key] = Broadcaster(config.ws_queue, config.ws_buffer)
    app.cleanup_ctx.append(_store)
    if config.redis_url is not None:
        app.cleanup_ctx.append(_redis_relay)
    app.cleanup_ctx.append(retention_task)
    app.on_shutdown.append(flush_writes)
    app.on_shutdown.append(_close_subscribers)
    routes = setup_routes(app)
    for path, handler in ((const.HEALTH_PATH, health.healthz), (const.READY_PATH, health.readyz),
                          (const.METRICS_PATH, metrics_handler(metrics))):
        for variant in (path, path + "/"):  # as every path: with and without its slash
            app.router.add_get(variant, handler)
    setup_docs(app)
    app.on_response_prepare.append(
        _response_headers(_setup_cors(app, config.cors_origins, routes)))
    return app


def _response_headers(cors_hooks: list[ResponseHook]) -> ResponseHook:
    """One on_response_prepare hook for the headers of every answer (each hook costs every
    request); aiohttp_cors's only for a request with an Origin, as without one it adds
    nothing (CORS 6.1.1), after ours, so that it can expose them."""

    async def hook(request: web.BaseRequest, response: web.StreamResponse) -> None:
        add_security_headers(request, response)
        add_request_id(request, response)
        if hdrs.ORIGIN in request.headers:
            for cors_hook in cors_hooks:
                await cors_hook(request, response)

    return hook


async def _store(app: web.Application) -> AsyncIterator[None]:
    """The store (one given to the app before it starts is used as it is: a test's)."""
    store = app.get(store_key) or Store(app[config_key])
    app[store_key] = store
    metrics = app[metrics_key]
    store.observe = metrics.observe_operation
    # Writes answered 503 may be stored all the same: subscribers must not miss them.
    store.on_commit_unknown = partial(app[broadcaster_key].broadcast_resync, COMMIT_UNKNOWN)
    metrics.read_from(app[broadcaster_key], store)
    await store.open()
    yield
    await store.close()


async def _redis_relay(app: web.Application) -> AsyncIterator[None]:
    """Share one stream with the other replicas; closed before the store (cleanup runs in
    reverse), after the last in-flight request has published."""
    from armada.stream_redis import RedisRelay  # Redis is imported only when configured

    config = app[config_key]
    relay = RedisRelay(config.redis_url or "", app[broadcaster_key], config.ws_buffer)
    await relay.start()
    yield
    await relay.close()


async def _close_subscribers(app: web.Application) -> None:
    await app[broadcaster_key].close()


def _setup_cors(app: web.Application, origins: tuple[str, ...],
                routes: list[web.AbstractRoute]) -> list[ResponseHook]:
    """aiohttp_cors on every route but the WebSocket; answers the response hooks it
    installed, taken out of on_response_prepare for `_response_headers` to call."""
    hooks_before = list(app.on_response_prepare)
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False, allow_headers="*", allow_methods="*", expose_headers="*",
        max_age=600,
    )
    cors = aiohttp_cors.setup(app, defaults={origin: options for origin in origins})
    for route in routes:
        websocket = route.resource is not None and \
            route.resource.canonical.startswith(const.WEBSOCKET_PREFIX)
        if route.method != "GET" or not websocket:
            cors.add(route)
    cors_hooks = [hook for hook in app.on_response_prepare if hook not in hooks_before]
    for hook in cors_hooks:
        app.on_response_prepare.remove(hook)
    return cors_hooks
