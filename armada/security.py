"""Browser-facing protections: security headers on every answer, the WebSocket Origin check."""

from __future__ import annotations

from aiohttp import hdrs, web
from yarl import URL

from armada import const
from armada.errors import OriginRefused
from armada.keys import config_key

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI sets inline styles and shows data: images; its scripts come from this service.
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
            "base-uri 'self'; form-action 'none'")
# aiohttp's names (istr): the header dict need not case-fold them on every answer.
SECURITY_HEADERS = (
    (hdrs.X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (hdrs.X_FRAME_OPTIONS, "DENY"),
    (hdrs.REFERRER_POLICY, "no-referrer"),
)


def add_security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Every answer, errors and the WebSocket handshake included (app.py's response hook)."""
    headers = response.headers
    for name, value in SECURITY_HEADERS:
        headers.setdefault(name, value)
    docs = request.path.startswith(const.DOCS_PATH)
    headers.setdefault(hdrs.CONTENT_SECURITY_POLICY, DOCS_CSP if docs else API_CSP)
    # The media type without parsing the header into a dict (`content_type` does: it was a
    # third of this function's time).
    media_type = headers.get(hdrs.CONTENT_TYPE, "").partition(";")[0].strip().lower()
    if media_type == "application/json":
        headers.setdefault(hdrs.CACHE_CONTROL, "no-store")


def origin_allowed(origin: str, host: str | None, allowed: tuple[str, ...]) -> bool:
    """An allowed origin, or the page's own origin (the dashboard behind the same nginx)."""
    if not allowed or "*" in allowed or origin.rstrip("/") in allowed:
        return True
    try:
        return host is not None and URL(origin).raw_authority.lower() == host.lower()
    except ValueError:
        return False


def check_websocket_origin(request: web.Request) -> None:
    """Refuse a WebSocket opened by a page from an origin that ARMADA_CORS_ORIGINS does not list.

    No Origin header means a client that is not a browser: allowed. Called first by
    auth.access_middleware, so a refused origin is a 403 whatever the token.
    """
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None or not request.path.startswith(const.WEBSOCKET_PREFIX):
        return
    if not origin_allowed(origin, request.headers.get(hdrs.HOST),
                          request.app[config_key].cors_origins):
        raise OriginRefused(f"origin {origin[:200]} may not open the WebSocket")
