"""Probes: /healthz without I/O, /readyz that asks the database whether it reads and writes
(503 with the reason); they and /metrics answer with and without a trailing slash, and stay
open with tokens."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import RUN
from server_process import ServiceProcess

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
    # Another process holds the write lock: the database does not take writes until it lets
    # go. (A database missing at start is a configuration error, not an outage.)
    database = tmp_path / "armada.db"
    client = await aiohttp_client(init_app(Config(
        database=SqliteSettings(path=database), db_timeout=0.3)))
    assert (await client.get("/readyz")).status == 200
    locker = sqlite3.connect(database, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")
        response = await client.get("/readyz")
        healthz = await client.get("/healthz")
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    assert response.status == 503
    assert response.headers["Retry-After"] == str(const.RETRY_AFTER_SECONDS)
    body = await response.json()
    assert body["error"] == "not_ready"
    assert "database unavailable" in body["detail"]
    assert healthz.status == 200  # alive, only not ready

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


# Readiness follows writes: SQLite's write lock held by another process


HOLD_THE_WRITE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
print("released", flush=True)
sys.stdin.readline()
"""


async def readyz_within(client: Any, seconds: float) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    async with asyncio.timeout(seconds):
        response = await client.get("/readyz")
        body = await response.json()
    return response.status, body, time.monotonic() - started


@pytest.mark.slow
async def test_readyz_is_503_while_another_process_holds_the_write_lock_and_200_once_released(
        aiohttp_client: Any, sqlite_path: Path) -> None:
    # ARMADA_DB_TIMEOUT as by default: writes wait 5 s for the lock before their 503.
    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=sqlite_path))))
    assert (await client.get("/readyz")).status == 200  # the schema exists
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_THE_WRITE_LOCK, str(sqlite_path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert await holder.stdout.readline() == b"locked\n"

        asking = [asyncio.create_task(readyz_within(client, const.READY_TIMEOUT_SECONDS + 3))
                  for _ in range(5)]
        await asyncio.sleep(0.3)
        probes_waiting = client.app[store_key].pending_writes  # one, however many ask
        locked = [*await asyncio.gather(*asking),
                  await readyz_within(client, const.READY_TIMEOUT_SECONDS + 3)]
        reads = await client.get("/api/runs/")  # readers are not blocked (WAL)
        write = await client.post("/api/runs/", json=RUN)

        holder.stdin.write(b"\n")
        assert await holder.stdout.readline() == b"released\n"
        status, body, _ = await readyz_within(client, const.READY_TIMEOUT_SECONDS + 3)
    finally:
        holder.kill()
        await holder.wait()

    for status_locked, body_locked, seconds in locked:
        assert status_locked == 503
        assert body_locked["error"] == "not_ready"
        assert "write" in body_locked["detail"]
        assert seconds < const.READY_TIMEOUT_SECONDS + 1
    assert probes_waiting == 1
    assert reads.status == 200
    assert write.status == 503 and "database is locked" in (await write.json())["detail"]
    assert (status, body) == (200, {"status": "ready"})
    assert (await client.post("/api/runs/", json=RUN)).status == 201


def docker_healthcheck() -> list[str]:
    """The Dockerfile's HEALTHCHECK command (its exec form), as written there."""
    dockerfile = (Path(__file__).resolve().parent.parent / "Dockerfile").read_text()
    found = re.search(r"^HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert found is not None, "the Dockerfile has no HEALTHCHECK CMD [...]"
    return json.loads(found.group(1))


def run_healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    program, *args = docker_healthcheck()
    assert program == "python"
    # -I -S: no site-packages, no user or environment paths: the standard library alone.
    return subprocess.run([sys.executable, "-I", "-S", *args], capture_output=True, text=True,
                          timeout=10, env={"ARMADA_PORT": str(port)})


@pytest.mark.external
def test_the_docker_healthcheck_passes_on_a_serving_service_and_fails_on_none(tmp_path: Path):
    service = ServiceProcess(tmp_path / "armada.db", tmp_path)
    service.start()
    try:
        assert run_healthcheck(service.port).returncode == 0
    finally:
        service.stop()
    assert run_healthcheck(service.port).returncode != 0
