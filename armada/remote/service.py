"""What the commands that talk to a running service share (`armada tail`, `export`, `import`):
where the service is by default, the bearer token, and a failure told in one line."""

from __future__ import annotations

import re
import socket
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp

DEFAULT_URL = "http://127.0.0.1:8000"
TOKEN_VARIABLE = "ARMADA_TOKEN"
# RFC 6750's b64token: what an Authorization header carries without quoting.
TOKEN_SYNTAX = re.compile(r"[A-Za-z0-9._~+/-]+=*")
TOKEN_PARAMETER = "token"


def clean_token(token: str | None) -> str | None:
    """`token` without surrounding blanks, None when empty; ValueError (which does not repeat
    it) when it is not a bearer token's characters."""
    token = (token or "").strip()
    if not token:
        return None
    if not TOKEN_SYNTAX.fullmatch(token):
        raise ValueError("the token is not a bearer token: letters, digits and ._~+/- only")
    return token


def split_token(url: str) -> tuple[str, str | None]:
    """`url` without its `?token=`, and that token (None when it has none)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    tokens = [value for name, value in query if name == TOKEN_PARAMETER]
    if not tokens:
        return url, None
    rest = [(name, value) for name, value in query if name != TOKEN_PARAMETER]
    return urlunsplit(parts._replace(query=urlencode(rest))), tokens[-1]


def describe(status: int, body: Any, otherwise: str | None = None) -> str:
    """An error answer in one line: its status, code and detail (the service's JSON error),
    else its status and `otherwise` (the reason phrase)."""
    if isinstance(body, dict) and body.get("detail"):
        return f"{status} {body.get('error')}: {body['detail']}"
    return f"{status} {otherwise}" if otherwise is not None else f"{status}"


def unreachable(url: str, error: BaseException) -> str:
    """A failure to reach the service in a few words, `cannot reach URL: connection refused`,
    not the client library's internals (its host key, ssl:default, the failed call)."""
    return f"cannot reach {url}: {_failure(error)}"


def _failure(error: BaseException) -> str:
    if isinstance(error, aiohttp.InvalidURL):
        return "not a valid URL"
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return "the TLS certificate was refused"
    if isinstance(error, aiohttp.ClientConnectorError):
        error = error.os_error
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the connection was closed by the server"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionError):
        return "connection lost"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, socket.gaierror):
        return "host not found"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return type(error).__name__


def bearer_headers(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}
