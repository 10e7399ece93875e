"""The live page at `/` (runs, jobs, a timeline, events, updated from the WebSocket).

Plain ES modules and CSS from `static/live/`, no build step; every URL in them is relative,
so the page works under a path prefix (`/tracking/` behind nginx). The page and its files
are open like `/api/docs/`: the data it reads needs a read token when one is configured,
and the page asks for it.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import hdrs, web

from armada import const

STATIC = Path(__file__).resolve().parent / "static"
LIVE = STATIC / "live"
FAVICON = STATIC / "favicon.ico"
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
# Only files of this folder, by name: a request cannot reach anything else.
ASSETS = {path.name: (path, TYPES[path.suffix]) for path in sorted(LIVE.iterdir())
          if path.suffix in TYPES and path.name != "index.html"}
ASSET_MAX_AGE = 300
FAVICON_MAX_AGE = 86400
# Scripts and styles only from this service, no inline code; data and the WebSocket only here.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def setup_page(app: web.Application) -> None:
    app.router.add_get(const.PAGE_PATH, live_page)
    app.router.add_get(const.PAGE_ASSETS_PATH + "{asset}", live_asset)
    app.router.add_get(const.FAVICON_PATH, favicon)


async def live_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(LIVE / "index.html", headers={
        hdrs.CONTENT_TYPE: "text/html", hdrs.CONTENT_SECURITY_POLICY: PAGE_CSP,
        hdrs.CACHE_CONTROL: "no-cache",
    })


async def favicon(request: web.Request) -> web.FileResponse:
    """The icon browsers ask every site for (a blue disc, three white dots: a fleet)."""
    return web.FileResponse(FAVICON, headers={
        hdrs.CONTENT_TYPE: "image/x-icon", hdrs.CACHE_CONTROL: f"public, max-age={FAVICON_MAX_AGE}",
    })


async def live_asset(request: web.Request) -> web.FileResponse:
    asset = ASSETS.get(request.match_info["asset"])
    if asset is None:
        raise web.HTTPNotFound(text="no such file of the live page")
    path, content_type = asset
    return web.FileResponse(path, headers={
        hdrs.CONTENT_TYPE: content_type, hdrs.CONTENT_SECURITY_POLICY: PAGE_CSP,
        hdrs.CACHE_CONTROL: f"public, max-age={ASSET_MAX_AGE}",
    })
