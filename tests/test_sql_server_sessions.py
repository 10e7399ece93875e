"""SQL Server sessions outlive a stopped service in the same process (as SQL Server's own
drivers pool theirs): the next service on the same database takes them, unless they died."""

from __future__ import annotations

import os
from typing import Any

import pytest
from conftest import mssql_connect

from armada.app import init_app
from armada.config import Config, MssqlSettings
from armada.keys import store_key

pytestmark = [
    pytest.mark.skipif(not os.environ.get("ARMADA_TEST_MSSQL"),
                       reason="set ARMADA_TEST_MSSQL to run against SQL Server"),
    pytest.mark.parametrize("database", ["mssql"], indirect=True),  # conftest: emptied tables
]

RUN = {"run_uuid": "run-1", "run_datetime": "2026-02-24T10:30:00"}


def session_ids(connections: Any) -> set[int]:
    ids = set()
    for connection in connections:
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@SPID")
            ids.add(cursor.fetchone()[0])
    return ids


async def sessions_of_a_stopped_service(aiohttp_client: Any, config: Config) -> set[Any]:
    """The sessions of a service that wrote a run and stopped."""
    first = await aiohttp_client(init_app(config))
    assert (await first.post("/api/runs/", json=RUN)).status == 201
    sessions = set(first.app[store_key]._connections)
    await first.close()
    return sessions


async def test_a_service_started_after_another_stopped_takes_its_sessions(
        aiohttp_client: Any, database: MssqlSettings):
    config = Config(database=database, db_timeout=2.0)
    sessions = await sessions_of_a_stopped_service(aiohttp_client, config)

    second = await aiohttp_client(init_app(config))

    assert (await second.post("/api/runs/", json=RUN)).status == 200
    assert sessions & second.app[store_key]._connections


async def test_sessions_the_server_ended_while_they_waited_are_replaced_not_used(
        aiohttp_client: Any, database: MssqlSettings):
    config = Config(database=database, db_timeout=2.0)
    sessions = await sessions_of_a_stopped_service(aiohttp_client, config)
    killed = session_ids(sessions)
    with mssql_connect(database, database.database) as admin, admin.cursor() as cursor:
        for session in killed:
            cursor.execute(f"KILL {int(session)}")

    second = await aiohttp_client(init_app(config))

    assert (await second.post("/api/runs/", json=RUN)).status == 200
    assert (await second.get("/api/runs/run-1")).status == 200
    assert not sessions & second.app[store_key]._connections
