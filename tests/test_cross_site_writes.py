"""No cross-site writes: a page of another site cannot write, whatever it sends.

A browser sends a form or a `text/plain` body to any site without a CORS preflight, and
sends its page's `Origin` with every cross-site write. So bodies must be declared
`application/json` (415 otherwise), and a write (POST, PATCH, DELETE) whose Origin is
neither listed in ARMADA_CORS_ORIGINS nor the page's own (the dashboard behind the same
proxy: the WebSocket's rule) is a 403; either way nothing is stored. A request without
Origin is not a browser's: only the media type applies. Requests are made as a browser
makes them, over real HTTP to the running service.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import RUN, event_body, job_body

from armada.config import DEFAULT_CORS_ORIGINS

EVIL = "http://evil.example"
DASHBOARD = DEFAULT_CORS_ORIGINS.split(",")[0]  # http://localhost:5173
JSON = "application/json"
NOT_JSON = ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x", "application/octet-stream", "application/jsonp",
            "application/json-patch+json", "text/json", ""]
WRITES = [("POST", "/api/runs/", RUN), ("POST", "/api/jobs/", job_body()),
          ("POST", "/api/events/", event_body()),
          ("POST", "/api/events/batch", {"events": [event_body("event-2")]}),
          ("PATCH", "/api/jobs/status", {"job_uuid": "job-1", "job_status": "Failed"}),
          ("PATCH", "/api/events/status", {"event_uuid": "event-1", "event_status": "Failed"})]
write_endpoints = pytest.mark.parametrize("method, path, body", WRITES,
                                          ids=[f"{method} {path}" for method, path, _ in WRITES])


async def send(client: Any, method: str, path: str, body: Any, content_type: str | None,
               origin: str | None = None, **headers: str) -> Any:
    """`body` as JSON text with exactly the Content-Type given (none when empty) and Origin."""
    if content_type is not None:
        headers["Content-Type"] = content_type
    if origin is not None:
        headers["Origin"] = origin
    # skip_auto_headers: aiohttp would otherwise declare bytes application/octet-stream.
    return await client.request(method, path, data=json.dumps(body).encode(), headers=headers,
                                skip_auto_headers=["Content-Type"])


async def what_is_stored(client: Any) -> dict[str, Any]:
    """The job and event of `stored` as the API reads them, and whether run-2 exists."""
    job = await (await client.get("/api/jobs/job-1")).json()
    event = await (await client.get("/api/events/event-1")).json()
    events = await (await client.get("/api/events/?job_uuid=job-1")).json()
    run_2 = (await client.get("/api/runs/run-2")).status
    return {"job": job, "event": event, "events": len(events), "run-2": run_2}


@pytest.fixture
async def stored(client: Any) -> dict[str, Any]:
    """run-1 with job-1 and event-1 (so updates have targets), as they read before a test."""
    assert (await client.post("/api/jobs/", json=job_body())).status == 201
    assert (await client.post("/api/events/", json=event_body())).status == 201
    return await what_is_stored(client)


async def assert_refused(response: Any, status: int, error: str) -> None:
    assert response.status == status, await response.text()
    assert response.content_type == JSON
    body = await response.json()
    assert body["error"] == error and body["detail"]


async def test_a_text_plain_post_from_another_sites_page_is_refused_and_stores_nothing(
        client: Any) -> None:
    """The attack of issue 17: `fetch(url, {method: "POST", body: JSON.stringify(run)})`
    from evil.example sends text/plain with its Origin, and needs no preflight."""
    response = await send(client, "POST", "/api/runs/", RUN, "text/plain;charset=UTF-8",
                          origin=EVIL)

    await assert_refused(response, 403, "forbidden")
    assert (await client.get("/api/runs/run-1")).status == 404
    assert (await (await client.get("/api/runs/")).json())["total"] == 0


@write_endpoints
@pytest.mark.parametrize("content_type", NOT_JSON, ids=lambda value: value or "none")
async def test_a_body_not_declared_json_is_a_415_and_changes_nothing(
        client: Any, stored: dict[str, Any], method: str, path: str, body: Any,
        content_type: str) -> None:
    response = await send(client, method, path, body, content_type or None)

    await assert_refused(response, 415, "unsupported_media_type")
    assert await what_is_stored(client) == stored


@write_endpoints
@pytest.mark.parametrize("origin", [EVIL, "http://localhost:5174", "null"])
async def test_a_json_write_from_another_sites_page_is_a_403_and_changes_nothing(
        client: Any, stored: dict[str, Any], method: str, path: str, body: Any,
        origin: str) -> None:
    response = await send(client, method, path, body, JSON, origin=origin)

    await assert_refused(response, 403, "forbidden")
    assert await what_is_stored(client) == stored


async def test_a_delete_from_another_sites_page_is_a_403_and_deletes_nothing(
        client: Any, stored: dict[str, Any]) -> None:
    response = await client.delete("/api/runs/run-1", headers={"Origin": EVIL})

    await assert_refused(response, 403, "forbidden")
    assert (await client.get("/api/runs/run-1")).status == 200
    assert await what_is_stored(client) == stored


@pytest.mark.parametrize("content_type", [
    JSON, "application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8",
    " application/json ; charset=utf-8",
])
async def test_json_with_or_without_parameters_is_accepted(client: Any,
                                                            content_type: str) -> None:
    response = await send(client, "POST", "/api/runs/", RUN, content_type)

    assert response.status == 201
    assert (await client.get("/api/runs/run-1")).status == 200


@pytest.mark.parametrize("origin, headers", [
    (DASHBOARD, {}),  # listed in ARMADA_CORS_ORIGINS (its default)
    ("http://server:3000", {"Host": "server"}),  # the page's own, behind the platform's nginx
    ("http://server:3000", {"Host": "127.0.0.1:8000", "X-Forwarded-Host": "server:3000"}),
    ("http://server:3000", {"Host": "127.0.0.1:8000", "Forwarded": 'host="server:3000"'}),
    (None, {}),  # not a browser: the agents' client, curl
], ids=["listed", "own-page", "x-forwarded-host", "forwarded", "no-origin"])
async def test_a_json_write_from_an_allowed_origin_its_own_page_or_no_browser_is_stored(
        client: Any, origin: str | None, headers: dict[str, str]) -> None:
    created = await send(client, "POST", "/api/runs/", RUN, JSON, origin=origin, **headers)
    updated = await send(client, "PATCH", "/api/jobs/status",
                         {"job_uuid": "job-1", "job_status": "Failed"}, JSON, origin=origin,
                         **headers)
    deleted = await client.delete("/api/runs/run-1", headers={
        **headers, **({"Origin": origin} if origin else {})})

    assert created.status == 201
    assert updated.status == 404  # past the checks: there is no job-1
    assert deleted.status == 200


async def test_with_a_wildcard_any_sites_page_may_write_json_but_never_text(
        make_client: Any) -> None:
    client = await make_client(cors_origins=("*",))

    refused = await send(client, "POST", "/api/runs/", RUN, "text/plain", origin=EVIL)
    created = await send(client, "POST", "/api/runs/", RUN, JSON, origin=EVIL)

    await assert_refused(refused, 415, "unsupported_media_type")
    assert created.status == 201
    assert created.headers["Access-Control-Allow-Origin"] == EVIL


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
async def test_the_cors_preflight_of_an_allowed_origin_still_succeeds(client: Any,
                                                                      method: str) -> None:
    response = await client.options("/api/runs/", headers={
        "Origin": DASHBOARD, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type"})

    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD


async def test_a_preflight_from_another_sites_page_allows_it_nothing(client: Any) -> None:
    response = await client.options("/api/runs/", headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})

    assert "Access-Control-Allow-Origin" not in response.headers


async def test_reads_from_another_sites_page_are_answered_as_before(client: Any) -> None:
    response = await client.get("/api/runs/", headers={"Origin": EVIL})

    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_the_origin_check_comes_before_the_token(make_client: Any) -> None:
    client = await make_client(write_tokens=("write-token-0123456789",))

    response = await send(client, "POST", "/api/runs/", RUN, JSON, origin=EVIL)

    await assert_refused(response, 403, "forbidden")
