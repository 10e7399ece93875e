"""Below aiohttp_cors's public API: CORS by aiohttp_cors, but its response hook taken out of
`on_response_prepare` and called by hand, only for a request with an `Origin`.

Why: installed as aiohttp_cors installs it, its hook runs for every answer, and a request
without `Origin` pays a route lookup and a preflight check before the hook returns having
added nothing (CORS 6.1.1): 3.4 µs in-process, against a header lookup here. Measured
(`bench/compare.py` against the normal installation, 32 rounds of 4 s): 0.952 of its CPU
per request (0.810-1.112), about 3-5% less, though the hook alone accounts for about 0.8%:
kept, as marginal, by the 3% rule.

What it relies on: `aiohttp_cors.setup` installs exactly one `on_response_prepare` hook
(checked at start-up: anything else stops the service), and that hook adds nothing to an
answer to a request without `Origin`. Checked by `tests/test_aiohttp_cors_hooks.py`, which
compares the headers with aiohttp_cors installed normally, on the aiohttp_cors of
`CHECKED_WITH`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp_cors
from aiohttp import hdrs, web

from armada import const
from armada.private_api import CHECKED_WITH

CHECKED_WITH_AIOHTTP_CORS = CHECKED_WITH["aiohttp_cors_hooks"].version

ResponseHook = Callable[[web.BaseRequest, web.StreamResponse], Awaitable[None]]


def cors_defaults(origins: tuple[str, ...]) -> dict[str, aiohttp_cors.ResourceOptions]:
    """What each allowed origin may do: any method and header; every answer header exposed."""
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False, allow_headers="*", allow_methods="*", expose_headers="*",
        max_age=600,
    )
    return {origin: options for origin in origins}


def cors_routes(routes: list[web.AbstractRoute]) -> list[web.AbstractRoute]:
    """Every route but the WebSocket's (its Origin is checked by its handler)."""
    return [route for route in routes
            if route.method != "GET" or route.resource is None
            or not route.resource.canonical.startswith(const.WEBSOCKET_PREFIX)]


class CorsHeaders:
    """aiohttp_cors's headers for an answer, added when the request has an `Origin`."""

    def __init__(self, hook: ResponseHook) -> None:
        self._hook = hook

    @classmethod
    def setup(cls, app: web.Application, origins: tuple[str, ...],
              routes: list[web.AbstractRoute]) -> CorsHeaders:
        """aiohttp_cors on `routes` (preflight answers included), its response hook taken
        out of `app.on_response_prepare` for `add` to call."""
        hooks_before = list(app.on_response_prepare)
        cors = aiohttp_cors.setup(app, defaults=cors_defaults(origins))
        for route in cors_routes(routes):
            cors.add(route)
        installed = [hook for hook in app.on_response_prepare if hook not in hooks_before]
        if len(installed) != 1:
            raise RuntimeError(
                f"aiohttp_cors {aiohttp_cors.__version__} installed {len(installed)} response "
                f"hooks, not one as {CHECKED_WITH_AIOHTTP_CORS} did: see "
                "armada/private_api/aiohttp_cors_hooks.py")
        app.on_response_prepare.remove(installed[0])
        return cls(installed[0])

    @staticmethod
    def wanted(request: web.BaseRequest) -> bool:
        """Whether `add` has anything to add: the request has an `Origin` (asked first, so
        that the others make no coroutine)."""
        return hdrs.ORIGIN in request.headers

    async def add(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        """Call it after the answer's other headers are set, so that it can expose them;
        only when `wanted`."""
        await self._hook(request, response)
