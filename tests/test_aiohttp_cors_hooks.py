"""aiohttp_cors's response hook called by hand (`armada.private_api.aiohttp_cors_hooks`): the
same headers as aiohttp_cors installed as it installs itself (the version it was checked on:
tests/test_private_api.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp_cors
import pytest
from aiohttp import web

from armada.app import init_app
from armada.config import Config
from armada.private_api.aiohttp_cors_hooks import (
    CorsHeaders,
    cors_defaults,
    cors_routes,
)

ORIGINS = ("https://dashboard.example",)


def test_aiohttp_cors_installs_exactly_one_response_hook_and_the_service_keeps_it_out(
        config: Config) -> None:
    app = web.Application()
    before = list(app.on_response_prepare)
    aiohttp_cors.setup(app, defaults=cors_defaults(ORIGINS))
    assert len([hook for hook in app.on_response_prepare if hook not in before]) == 1

    service = init_app(config)
    assert len(service.on_response_prepare) == 1  # ours, which calls aiohttp_cors's


def test_an_aiohttp_cors_that_installs_other_hooks_stops_the_service_at_start_up(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = aiohttp_cors.setup

    def setup_with_two_hooks(app: web.Application, **kwargs: Any) -> Any:
        cors = setup(app, **kwargs)
        app.on_response_prepare.append(app.on_response_prepare[-1])
        return cors

    monkeypatch.setattr(aiohttp_cors, "setup", setup_with_two_hooks)
    with pytest.raises(RuntimeError, match="installed 2 response hooks"):
        init_app(config)


async def answer_json(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def answer_error(request: web.Request) -> web.Response:
    raise web.HTTPUnprocessableEntity(text='{"error": "validation_error"}',
                                      content_type="application/json")


async def answer_streamed(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.content_type = "application/json"
    await response.prepare(request)
    await response.write(b"[1,")
    await response.write_eof(b"2]")
    return response


async def own_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    response.headers["X-Request-ID"] = "request-1"  # a header of ours, to be exposed


def app_with_cors(install: Callable[[web.Application, list[web.AbstractRoute]], None]
                  ) -> web.Application:
    app = web.Application()
    routes = [app.router.add_get("/json", answer_json), app.router.add_post("/json", answer_json),
              app.router.add_get("/error", answer_error),
              app.router.add_get("/streamed", answer_streamed),
              app.router.add_get("/ws/events/", answer_json)]
    install(app, routes)
    return app


def by_hand(app: web.Application, routes: list[web.AbstractRoute]) -> None:
    cors = CorsHeaders.setup(app, ORIGINS, routes)

    async def hook(request: web.BaseRequest, response: web.StreamResponse) -> None:
        await own_headers(request, response)
        await cors.add(request, response)

    app.on_response_prepare.append(hook)


def as_aiohttp_cors_installs_itself(app: web.Application,
                                    routes: list[web.AbstractRoute]) -> None:
    app.on_response_prepare.append(own_headers)
    cors = aiohttp_cors.setup(app, defaults=cors_defaults(ORIGINS))
    for route in cors_routes(routes):
        cors.add(route)


def answer_headers(response: Any) -> dict[str, Any]:
    headers: dict[str, Any] = {name: value for name, value in response.headers.items()
                               if name != "Date"}
    if "Access-Control-Expose-Headers" in headers:  # a set, in no fixed order
        headers["Access-Control-Expose-Headers"] = set(
            headers["Access-Control-Expose-Headers"].split(","))
    return headers


@pytest.mark.parametrize("method, path", [
    ("GET", "/json"), ("POST", "/json"), ("GET", "/error"), ("GET", "/streamed"),
    ("OPTIONS", "/json"), ("GET", "/ws/events/"),
])
@pytest.mark.parametrize("origin", ["https://dashboard.example", "https://elsewhere.example",
                                    None])
async def test_the_headers_are_those_of_aiohttp_cors_installed_as_it_installs_itself(
        aiohttp_client: Any, method: str, path: str, origin: str | None) -> None:
    headers = {} if origin is None else {"Origin": origin}
    if method == "OPTIONS":  # a preflight, answered by aiohttp_cors's own route
        headers["Access-Control-Request-Method"] = "POST"
    answers = []
    for install in (by_hand, as_aiohttp_cors_installs_itself):
        client = await aiohttp_client(app_with_cors(install))
        response = await client.request(method, path, headers=headers)
        answers.append((response.status, answer_headers(response), await response.read()))

    assert answers[0] == answers[1]
    headers = answers[0][1]
    if origin == ORIGINS[0] and method != "OPTIONS" and path != "/ws/events/":
        assert headers["Access-Control-Allow-Origin"] == origin
        assert "X-Request-ID" in headers["Access-Control-Expose-Headers"]
    elif origin != ORIGINS[0]:
        assert not any(name.startswith("Access-Control-") for name in headers)
