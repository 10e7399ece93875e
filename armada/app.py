"""The application factory: builds the aiohttp app from one Config."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp_cors
from aiohttp import web

from armada.broadcast import Broadcaster
from armada.config import Config
from armada.keys import broadcaster_key, config_key, store_key
from armada.middlewares import error_middleware
from armada.routes import setup_routes
from armada.store import Store

log = logging.getLogger(__name__)


def init_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=config.max_body)
    app[config_key] = config
    app[broadcaster_key] = Broadcaster(config.ws_queue)
    app.cleanup_ctx.append(_store)
    app.on_shutdown.append(_close_subscribers)
    routes = setup_routes(app)
    _setup_cors(app, config.cors_origins, routes)
    return app


async def _store(app: web.Application) -> AsyncIterator[None]:
    store = Store(app[config_key])
    app[store_key] = store
    await store.open()
    yield
    await store.close()


async def _close_subscribers(app: web.Application) -> None:
    await app[broadcaster_key].close()


def _setup_cors(app: web.Application, origins: tuple[str, ...],
                routes: list[web.AbstractRoute]) -> None:
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False, allow_headers="*", allow_methods="*", expose_headers="*",
        max_age=600,
    )
    cors = aiohttp_cors.setup(app, defaults={origin: options for origin in origins})
    for route in routes:
        if route.method != "GET" or not route.resource or "/ws/" not in route.resource.canonical:
            cors.add(route)
