"""Access control: bearer tokens for writes and for reads, off unless configured.

With ARMADA_WRITE_TOKENS set, POST/PATCH/DELETE need one of them; with ARMADA_READ_TOKENS
set, GET and the WebSocket need a read or a write token. The WebSocket may carry it as
`?token=` (browsers cannot set headers there); that parameter is removed before the handler
sees the query. Probes, metrics, the API description and CORS preflights stay open.
"""

from __future__ import annotations

import hmac

from aiohttp import hdrs, web

from armada import const
from armada.errors import Unauthorized
from armada.http.security import WRITE_METHODS, check_origin
from armada.keys import config_key

OPEN_PATHS = frozenset(path + slash for path in (const.HEALTH_PATH, const.READY_PATH,
                                                  const.METRICS_PATH) for slash in ("", "/"))
# The live page and its files are open: the data they read is not (the page asks for a token).
OPEN_PATHS |= {const.PAGE_PATH, const.FAVICON_PATH}
OPEN_PREFIXES = (const.DOCS_PATH, const.OPENAPI_PATH, const.PAGE_ASSETS_PATH)
TOKEN_PARAMETER = "token"
CHALLENGE = 'Bearer realm="armada"'


def token_matches(given: str, allowed: tuple[str, ...]) -> bool:
    """Constant time: every configured token is compared, whatever matched before."""
    given_bytes = given.encode()
    found = False
    for token in allowed:
        found |= hmac.compare_digest(given_bytes, token.encode())
    return found


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    # Only the WebSocket takes it from the URL: elsewhere a header is possible, and URLs leak.
    if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
        return request.query.get(TOKEN_PARAMETER) or None
    return None


def without_token(request: web.Request) -> web.Request:
    """The request with `?token=` taken out of its URL, so that query schemas never see it."""
    if TOKEN_PARAMETER not in request.query:
        return request
    return request.clone(rel_url=request.rel_url.without_query_params(TOKEN_PARAMETER))


def admitted(request: web.Request) -> web.Request:
    """The Origin check of writes and the WebSocket (security.py), then the bearer token;
    the request as its handler sees it (`without_token`). Raises the 403 or 401."""
    check_origin(request)
    config = request.app[config_key]
    write = request.method in WRITE_METHODS
    required = config.write_tokens if write else config.read_tokens
    if required and request.method != hdrs.METH_OPTIONS and request.path not in OPEN_PATHS \
            and not request.path.startswith(OPEN_PREFIXES):
        token = bearer_token(request)
        if token is None:
            raise Unauthorized(f"this service needs a bearer token for {request.method}",
                               CHALLENGE)
        # A write token also reads.
        if not token_matches(token, required if write else required + config.write_tokens):
            kind = "write" if write else "read or write"
            raise Unauthorized(f"the bearer token is not a {kind} token of this service",
                               CHALLENGE + ', error="invalid_token"')
    return without_token(request)
