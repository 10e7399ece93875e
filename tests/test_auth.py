"""Access control: off by default; write tokens for writes, read tokens for reads and WS."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from helpers import RUN, next_message

from armada.app import init_app
from armada.config import Config

WRITE = "write-token-0123456789"
READ = "read-token-0123456789ab"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def assert_unauthorized(response: Any) -> None:
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = await response.json()
    assert body["error"] == "unauthorized"


async def test_without_tokens_configured_everything_is_open(client: Any) -> None:
    assert (await client.post("/api/runs/", json=RUN)).status == 201
    assert (await client.get("/api/runs/")).status == 200


async def test_writes_need_a_write_token_when_write_tokens_are_set(make_client: Any) -> None:
    client = await make_client(write_tokens=(WRITE, "second-write-token-xyz"))

    await assert_unauthorized(await client.post("/api/runs/", json=RUN))
    await assert_unauthorized(await client.post("/api/runs/", json=RUN, headers=bearer("nope")))
    await assert_unauthorized(await client.delete("/api/runs/run-1", headers={
        "Authorization": f"Basic {WRITE}"}))
    assert (await client.post("/api/runs/", json=RUN, headers=bearer(WRITE))).status == 201
    second = bearer("second-write-token-xyz")
    assert (await client.delete("/api/runs/run-1", headers=second)).status == 200
    # Reads stay open while only write tokens are set.
    assert (await client.get("/api/runs/")).status == 200


async def test_reads_and_the_websocket_need_a_read_or_write_token(make_client: Any) -> None:
    client = await make_client(write_tokens=(WRITE,), read_tokens=(READ,))

    await assert_unauthorized(await client.get("/api/runs/"))
    await assert_unauthorized(await client.get("/api/runs/", headers=bearer("wrong-token")))
    assert (await client.get("/api/runs/", headers=bearer(READ))).status == 200
    assert (await client.get("/api/runs/", headers=bearer(WRITE))).status == 200
    # A read token is not a write token.
    await assert_unauthorized(await client.post("/api/runs/", json=RUN, headers=bearer(READ)))
    # The query parameter is for the WebSocket only: URLs end up in logs.
    await assert_unauthorized(await client.get(f"/api/runs/?token={READ}"))

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/events/")
    assert refused.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/ws/events/?token=wrong-token-123456")

    ws = await client.ws_connect(f"/ws/events/?token={READ}")
    try:
        assert (await client.post("/api/runs/", json=RUN, headers=bearer(WRITE))).status == 201
        assert (await next_message(ws))["type"] == "new_run"
    finally:
        await ws.close()


async def test_probes_metrics_and_the_api_description_stay_open(make_client: Any) -> None:
    client = await make_client(write_tokens=(WRITE,), read_tokens=(READ,))

    for path in ("/healthz", "/readyz", "/metrics", "/api/openapi.json", "/api/docs/"):
        assert (await client.get(path)).status == 200, path


async def test_cors_preflight_needs_no_token(make_client: Any) -> None:
    client = await make_client(write_tokens=(WRITE,), read_tokens=(READ,))

    response = await client.options("/api/runs/", headers={
        "Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type",
    })

    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"


async def test_tokens_never_reach_the_logs(aiohttp_client: Any, config: Config,
                                           caplog: pytest.LogCaptureFixture) -> None:
    client = await aiohttp_client(init_app(replace(config, write_tokens=(WRITE,),
                                                   read_tokens=(READ,))))
    caplog.set_level(logging.DEBUG)

    await client.post("/api/runs/", json=RUN, headers=bearer(WRITE))
    await client.get("/api/runs/", headers=bearer("a-wrong-token-logged?"))
    ws = await client.ws_connect(f"/ws/events/?token={READ}")
    await ws.close()

    # `python -m armada serve` turns aiohttp's own access log off (test_request_log checks).
    ours = "\n".join(record.getMessage() + repr(vars(record)) for record in caplog.records
                     if record.name != "aiohttp.access")
    assert "armada.access" in ours
    for token in (WRITE, READ, "a-wrong-token-logged?"):
        assert token not in ours


@pytest.mark.parametrize("tokens", [{}, {"write_tokens": (WRITE,), "read_tokens": (READ,)}],
                         ids=["no tokens", "read tokens"])
async def test_the_favicon_is_an_icon_that_needs_no_token(make_client: Any, tokens: dict) -> None:
    client = await make_client(**tokens)
    response = await client.get("/favicon.ico")

    assert response.status == 200
    assert response.content_type == "image/x-icon"
    icon = await response.read()
    assert icon[:4] == b"\x00\x00\x01\x00"  # an ICO file's header: reserved 0, type 1 (icon)
    assert int.from_bytes(icon[4:6], "little") >= 1  # images in it
