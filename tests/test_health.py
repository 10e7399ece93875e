"""Probes: /healthz without I/O, /readyz that asks the database (503 with the reason);
they and /metrics answer with and without a trailing slash, and stay open with tokens."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from armada import const
from armada.app import init_app
from armada.config import Config, SqliteSettings
from armada.keys import store_key


async def test_healthz_answers_ok(client: Any) -> None:
    response = await client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_answers_ready_when_the_database_answers(client: Any) -> None:
    response = await client.get("/readyz")

    assert response.status == 200
    assert await response.json() == {"status": "ready"}


async def test_readyz_answers_503_with_the_reason_until_the_database_is_back(
        aiohttp_client: Any, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    client = await aiohttp_client(init_app(Config(
        database=SqliteSettings(path=folder / "armada.db"), db_timeout=0.3)))
    shutil.rmtree(folder)
    for connection in list(client.app[store_key]._connections):
        connection.close()

    response = await client.get("/readyz")
    healthz = await client.get("/healthz")

    assert response.status == 503
    assert response.headers["Retry-After"] == str(const.RETRY_AFTER_SECONDS)
    body = await response.json()
    assert body["error"] == "not_ready"
    assert "database unavailable" in body["detail"]
    assert healthz.status == 200  # alive, only not ready

    folder.mkdir()
    assert (await client.get("/readyz")).status == 200


READ_TOKEN = "read-token-0123456789"


@pytest.mark.parametrize("path, content_type", [
    ("/healthz", "application/json"), ("/healthz/", "application/json"),
    ("/readyz", "application/json"), ("/readyz/", "application/json"),
    ("/metrics", "text/plain"), ("/metrics/", "text/plain"),
])
async def test_probes_and_metrics_answer_with_and_without_the_slash_and_need_no_token(
        make_client: Any, path: str, content_type: str) -> None:
    for client in (await make_client(), await make_client(read_tokens=(READ_TOKEN,),
                                                          write_tokens=(READ_TOKEN + "w",))):
        response = await client.get(path)

        assert response.status == 200, await response.text()
        assert response.content_type == content_type
