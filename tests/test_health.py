"""Probes: /healthz without I/O, /readyz that asks the database (503 with the reason)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

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
