"""Security headers on every answer, CORS headers for allowed origins, and the Origin check
of the WebSocket and of writes."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from helpers import RUN

from armada.config import load_config
from armada.http.security import API_CSP, DOCS_CSP, origin_allowed


def assert_security_headers(headers: Any, csp: str = API_CSP) -> None:
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Content-Security-Policy"] == csp


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/api/runs/", 200),
    ("POST", "/api/runs/", 201),
    ("GET", "/api/nothing-here", 404),
    ("PUT", "/api/runs/", 405),
    ("GET", "/healthz", 200),
    ("GET", "/metrics", 200),
])
async def test_every_answer_carries_the_security_headers(client: Any, method: str, path: str,
                                                         status: int) -> None:
    response = await client.request(method, path, json=RUN if method == "POST" else None)

    assert response.status == status
    assert_security_headers(response.headers)


async def test_api_json_is_never_cached(client: Any) -> None:
    for response in (await client.get("/api/runs/"), await client.post("/api/runs/", json={})):
        assert response.content_type == "application/json"
        assert response.headers["Cache-Control"] == "no-store"


async def test_docs_assets_are_not_marked_uncacheable(client: Any) -> None:
    response = await client.get("/api/docs/")

    assert response.content_type == "text/html"
    assert "Cache-Control" not in response.headers


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_cors_headers_answer_an_allowed_origin_only(make_client: Any, method: str) -> None:
    client = await make_client(cors_origins=("https://dashboard.example",))
    body = RUN if method == "POST" else None

    allowed = await client.request(method, "/api/runs/", json=body,
                                   headers={"Origin": "https://dashboard.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://dashboard.example"
    # aiohttp_cors runs after our headers are set, so a page can read the request id.
    assert "X-Request-ID" in allowed.headers["Access-Control-Expose-Headers"].split(",")

    # Another site's page may read nothing, and write nothing (a 403: test_safe_by_default).
    for headers in ({"Origin": "https://elsewhere.example"}, {}):
        other = await client.request(method, "/api/runs/", json=body, headers=headers)
        if method == "POST" and headers:
            assert other.status == 403
        else:
            assert other.status == 200  # the run, or the run posted again
        assert not any(name.startswith("Access-Control-") for name in other.headers), headers


async def test_the_docs_page_gets_a_policy_that_lets_swagger_ui_run(client: Any) -> None:
    response = await client.get("/api/docs/")

    assert_security_headers(response.headers, DOCS_CSP)
    assert "script-src 'self'" in DOCS_CSP and "unsafe-eval" not in DOCS_CSP


async def test_the_websocket_handshake_carries_them_too(client: Any) -> None:
    ws = await client.ws_connect("/ws/events/")
    try:
        assert_security_headers(ws._response.headers)
    finally:
        await ws.close()


# The WebSocket Origin check (ARMADA_CORS_ORIGINS)


async def test_a_websocket_from_an_origin_not_allowed_is_refused(make_client: Any) -> None:
    client = await make_client(cors_origins=("https://dashboard.example",))

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/events/", origin="https://evil.example")

    assert refused.value.status == 403


@pytest.mark.parametrize("headers", [
    {"Origin": "https://dashboard.example"},
    {},  # not a browser
    {"Origin": "https://armada.example", "Host": "armada.example"},  # same origin (nginx)
], ids=["allowed", "no-origin", "same-origin"])
async def test_a_websocket_from_an_allowed_origin_or_none_connects(make_client: Any,
                                                                   headers: dict[str, str]):
    client = await make_client(cors_origins=("https://dashboard.example",))

    ws = await client.ws_connect("/ws/events/", headers=headers)
    await ws.close()


async def test_with_no_origins_listed_the_websocket_takes_only_its_own_page(
        make_client: Any) -> None:
    client = await make_client(cors_origins=())

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/events/", origin="https://anywhere.example")
    ws = await client.ws_connect("/ws/events/", headers={
        "Origin": "https://armada.example", "Host": "armada.example"})
    await ws.close()

    assert refused.value.status == 403


# The page's own origin (origin_allowed: a pure function of the headers)

LISTED = ("https://dashboard.example",)


@pytest.mark.parametrize("origin, host, forwarded_headers", [
    # The platform's nginx: `Host $host` drops the port the browser used (compose 3000:8080).
    ("http://server:3000", "server", {}),
    ("http://SERVER:3000", "server", {}),
    ("http://server", "server", {}),
    ("https://server", "server:443", {}),
    ("http://server:3000", "server:3000", {}),
    ("http://[::1]:3000", "[::1]", {}),
    ("http://server:3000", "127.0.0.1:8000", {"forwarded_host": "server:3000"}),
    ("http://server:3000", "127.0.0.1:8000", {"forwarded_host": "server:3000, inner:80"}),
    ("http://server:3000", None, {"forwarded_host": "server"}),
    ("http://server:3000", "127.0.0.1:8000", {"forwarded": 'for=10.0.0.1;host="server:3000"'}),
    ("http://server:3000", "127.0.0.1:8000", {"forwarded": "Host=server;proto=http"}),
    ("http://server:3000", "127.0.0.1:8000",
     {"forwarded": 'host="server:3000";proto=http, host=inner;for=10.0.0.2'}),
], ids=lambda value: str(value))
def test_the_page_on_the_host_the_browser_addressed_is_its_own_origin(
        origin: str, host: str | None, forwarded_headers: dict[str, str]) -> None:
    assert origin_allowed(origin, host, LISTED, **forwarded_headers)


@pytest.mark.parametrize("origin, host, forwarded_headers", [
    ("http://evil.example:3000", "server", {}),
    ("http://evil.example", "server", {}),
    # With a port in Host the whole authority must match: another port is another origin.
    ("http://server:3000", "server:8000", {}),
    ("http://server", "server:8000", {}),
    ("https://server", "server:80", {}),
    ("http://localhost:3000", "127.0.0.1", {}),
    ("http://server.evil.example", "server", {}),
    ("null", "server", {}),
    ("file://server", "server", {}),
    ("http://server:99999", "server", {}),
    ("http://server:3000", "evil@server", {}),
    ("http://server:3000", "server/x", {}),
    ("http://server:3000", None, {}),
    ("http://evil.example:3000", "server", {"forwarded_host": "server:3000"}),
    ("http://server:3000", "127.0.0.1:8000", {"forwarded_host": "server:8080"}),
    ("http://server:3000", "127.0.0.1:8000", {"forwarded_host": "inner, server:3000"}),
    # Only the first element's host= is the browser's; for= is not a host.
    ("http://server:3000", "127.0.0.1:8000", {"forwarded": "for=10.0.0.1, host=server"}),
    ("http://server:3000", "127.0.0.1:8000", {"forwarded": 'for="server:3000"'}),
    ("http://server:3000", "127.0.0.1:8000", {"forwarded": "host"}),
], ids=lambda value: str(value))
def test_a_page_from_another_host_or_port_is_not_its_own_origin(
        origin: str, host: str | None, forwarded_headers: dict[str, str]) -> None:
    assert not origin_allowed(origin, host, LISTED, **forwarded_headers)


def test_listed_origins_and_a_wildcard_are_allowed_whatever_the_host() -> None:
    assert origin_allowed("https://dashboard.example", "server", LISTED)
    assert origin_allowed("https://dashboard.example/", "server", LISTED)
    assert origin_allowed("http://anywhere.example", "server", ("*",))
    # An empty list allows no other site (only `*` allows every one).
    assert not origin_allowed("http://anywhere.example", "server", ())


@pytest.mark.parametrize("headers, status", [
    ({"Origin": "http://server:3000", "Host": "server"}, 101),
    ({"Origin": "http://server:3000", "Host": "server:8000"}, 403),
    ({"Origin": "http://evil.example:3000", "Host": "server"}, 403),
    ({"Origin": "http://server:3000", "Host": "127.0.0.1", "X-Forwarded-Host": "server:3000"},
     101),
    ({"Origin": "http://server:3000", "Host": "127.0.0.1",
      "Forwarded": 'host="server:3000";proto=http'}, 101),
], ids=["host-without-port", "other-port", "other-host", "x-forwarded-host", "forwarded"])
async def test_the_websocket_origin_check_reads_host_and_the_forwarded_headers(
        make_client: Any, headers: dict[str, str], status: int) -> None:
    client = await make_client(cors_origins=LISTED)

    if status == 101:
        ws = await client.ws_connect("/ws/events/", headers=headers)
        await ws.close()
    else:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/ws/events/", headers=headers)
        assert refused.value.status == status


async def test_a_wildcard_in_armada_cors_origins_lets_a_page_of_any_origin_in(
        make_client: Any) -> None:
    origins = load_config({"ARMADA_CORS_ORIGINS": "*"}).cors_origins
    assert origins == ("*",)
    client = await make_client(cors_origins=origins)
    page = "https://anywhere.example"

    response = await client.post("/api/runs/", json=RUN, headers={"Origin": page})
    preflight = await client.options("/api/runs/", headers={
        "Origin": page, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    ws = await client.ws_connect("/ws/events/", origin=page)
    await ws.close()

    assert response.status == 201
    assert response.headers["Access-Control-Allow-Origin"] == page
    assert preflight.status == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == page
