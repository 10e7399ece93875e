"""`/api/openapi.json` and the browsable page `/api/docs/` (Swagger UI, served from packages).

The page and its script ship in `armada/static/`; Swagger UI itself comes from the
`swagger-ui-bundle` package (Apache-2.0): nothing is fetched from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

from armada import const
from armada.http.openapi import build_openapi
from armada.http.parsing import json_response

STATIC = Path(__file__).resolve().parent / "static"
SWAGGER_UI = Path(str(swagger_ui_path))
ASSETS = {
    "swagger-ui.css": (SWAGGER_UI / "swagger-ui.css", "text/css"),
    "swagger-ui-bundle.js": (SWAGGER_UI / "swagger-ui-bundle.js", "text/javascript"),
    "favicon-32x32.png": (SWAGGER_UI / "favicon-32x32.png", "image/png"),
    "docs.js": (STATIC / "docs.js", "text/javascript"),
}
ASSET_MAX_AGE = 3600


def setup_docs(app: web.Application) -> None:
    document = build_openapi()

    async def openapi_json(request: web.Request) -> web.Response:
        return json_response(document)

    app.router.add_get(const.OPENAPI_PATH, openapi_json)
    app.router.add_get(const.DOCS_PATH, docs_redirect)
    app.router.add_get(const.DOCS_PATH + "/", docs_page)
    app.router.add_get(const.DOCS_PATH + "/{asset}", docs_asset)


async def docs_redirect(request: web.Request) -> web.Response:
    # Relative: the page's own relative links need the slash, behind a path prefix too.
    raise web.HTTPFound("docs/")


async def docs_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "docs.html", headers={"Content-Type": "text/html"})


async def docs_asset(request: web.Request) -> web.FileResponse:
    asset = ASSETS.get(request.match_info["asset"])
    if asset is None:
        raise web.HTTPNotFound(text="no such file of the API page")
    path, content_type = asset
    return web.FileResponse(path, headers={
        "Content-Type": content_type, "Cache-Control": f"public, max-age={ASSET_MAX_AGE}",
    })
