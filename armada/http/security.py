"""Browser-facing protections: security headers on every answer; the Origin check of the
WebSocket and of every write."""

from __future__ import annotations

import re

from aiohttp import hdrs, web
from yarl import URL

from armada import const
from armada.errors import OriginRefused
from armada.keys import config_key

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
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
# One `name=value` of an RFC 7239 `Forwarded` header and what follows it (`;`: same element,
# `,`: the next proxy's element).
FORWARDED_PAIR = re.compile(r'([^=;,\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*([;,]|$)')
QUOTED_PAIR = re.compile(r"\\(.)")
# `host[:port]` as in a Host header: a name or IPv4 address, or an IPv6 address in brackets.
AUTHORITY = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\s/?#@\[\]:]+)(?::(\d{1,5}))?")


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


def origin_allowed(origin: str, host: str | None, allowed: tuple[str, ...], *,
                   forwarded: str | None = None, forwarded_host: str | None = None) -> bool:
    """An allowed origin (`*` allows every one), or the page's own origin (the dashboard
    behind the same proxy).

    `host`, `forwarded` and `forwarded_host` are the request's `Host`, `Forwarded` and
    `X-Forwarded-Host` headers. The page is the service's own when its origin matches the
    authority the browser addressed: `Host`, or the `host=` a proxy passed on. A browser
    page cannot set these headers, so honouring them lets no other site in.
    """
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    try:
        page = URL(origin)
    except ValueError:
        return False
    if page.scheme not in ("http", "https") or not page.host:
        return False  # `null` (a sandboxed or file page), or something no browser sends
    page_host = page.host.lower()
    authorities = (host, _first_forwarded_host(forwarded), _first_item(forwarded_host))
    return any(_same_authority(page_host, page.port, authority)
               for authority in authorities if authority)


def request_origin_allowed(request: web.BaseRequest, origin: str) -> bool:
    """`origin_allowed` with this request's headers and the configured origins."""
    headers = request.headers
    return origin_allowed(origin, headers.get(hdrs.HOST), request.app[config_key].cors_origins,
                          forwarded=headers.get(hdrs.FORWARDED),
                          forwarded_host=headers.get(hdrs.X_FORWARDED_HOST))


def _same_authority(page_host: str, page_port: int | None, authority: str) -> bool:
    """The origin's host and port against a `host[:port]` header value.

    Without a port (a proxy's `Host $host` drops it) the host names decide; with one, the
    port must be the origin's too (explicit, or its scheme's default).
    """
    match = AUTHORITY.fullmatch(authority.strip())
    if match is None:
        return False
    host, port = match.groups()
    return host.strip("[]").lower() == page_host and (port is None or int(port) == page_port)


def _first_item(value: str | None) -> str | None:
    """The first of a comma-separated list: the value the first proxy (the browser's) set."""
    return value.partition(",")[0] if value else None


def _first_forwarded_host(value: str | None) -> str | None:
    """The `host=` of the first element of an RFC 7239 `Forwarded` header, unquoted."""
    for match in FORWARDED_PAIR.finditer(value or ""):
        name, raw, separator = match.groups()
        if name.lower() == "host":
            return QUOTED_PAIR.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw
        if separator == ",":
            return None
    return None


def check_origin(request: web.Request) -> None:
    """Refuse a write (POST, PUT, PATCH, DELETE) or a WebSocket from a page whose origin is
    neither listed in ARMADA_CORS_ORIGINS nor the page's own: a 403, before anything is read
    or stored.

    No Origin header means a client that is not a browser: allowed. Browsers send Origin
    with every cross-site write, and a form or a `text/plain` fetch needs no CORS preflight,
    so CORS alone would let any site write. Called first by auth.admitted, so a
    refused origin is a 403 whatever the token; all else pays one header lookup.
    """
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return
    if request.method in WRITE_METHODS:
        if not request_origin_allowed(request, origin):
            raise OriginRefused(f"origin {origin[:200]} may not {request.method} here: it is "
                                "neither in ARMADA_CORS_ORIGINS nor this service's own page")
    elif request.path.startswith(const.WEBSOCKET_PREFIX) \
            and not request_origin_allowed(request, origin):
        raise OriginRefused(f"origin {origin[:200]} may not open the WebSocket")
