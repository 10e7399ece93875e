"""Shared fixtures: the real app on a real port, over a real SQLite file (or SQL Server).

Every API test runs once per database: SQLite always, SQL Server when ARMADA_TEST_MSSQL
is set (with SQL_SERVER_NAME, SQL_SERVER_USER, SQL_SERVER_PASSWORD, SQL_SERVER_DB).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from armada.app import init_app
from armada.config import Config, MssqlSettings, SqliteSettings, load_config
from armada.serving import event_loop_factory

MSSQL_ENABLED = bool(os.environ.get("ARMADA_TEST_MSSQL"))
# The tests' event loop: the one the service serves on (armada.serving.event_loop_factory:
# uvloop where installed), or another by name, as ARMADA_EVENT_LOOP chooses the service's.
TEST_EVENT_LOOP = os.environ.get("ARMADA_TEST_EVENT_LOOP", "auto")


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item
                                  ) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factory = event_loop_factory(TEST_EVENT_LOOP)
    if factory is None:
        return {"asyncio": asyncio.new_event_loop}
    return {"uvloop": factory}


def mssql_settings() -> MssqlSettings:
    """The test database SQL_SERVER_* name; one of its own per pytest-xdist worker
    (`-n 3`: armada_test_gw0, armada_test_gw1, ...), created when missing."""
    settings = load_config(os.environ).database
    if not isinstance(settings, MssqlSettings):
        pytest.fail("ARMADA_TEST_MSSQL is set but SQL_SERVER_NAME is not")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return replace(settings, database=f"{settings.database}_{worker}") if worker else settings


def mssql_connect(settings: MssqlSettings, database: str) -> Any:
    """An autocommit pytds connection, with the port handling of MssqlDialect.connect."""
    import pytds

    return pytds.connect(dsn=settings.server,
                         port=None if "\\" in settings.server else settings.port,
                         user=settings.user, password=settings.password, database=database,
                         autocommit=True, login_timeout=30, appname="armada-tests")


@functools.cache
def create_mssql_database(settings: MssqlSettings) -> None:
    """Create the test database from `master` when missing (a fresh SQL Server container).
    Babelfish refuses one of two simultaneous CREATE DATABASE (`tuple concurrently
    updated`), and pytest-xdist's workers start together: they take turns, under a lock
    file, and a failure is still tried again."""
    lock_path = Path(tempfile.gettempdir()) / f"armada-tests-mssql-{settings.port}.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _create_mssql_database(settings)


def _create_mssql_database(settings: MssqlSettings) -> None:
    for attempt in range(1, 6):
        try:
            with mssql_connect(settings, "master") as connection, \
                    connection.cursor() as cursor:
                # CREATE DATABASE takes no parameter for its name: quote it on the server side.
                cursor.execute(
                    "IF DB_ID(%(name)s) IS NULL BEGIN"
                    " DECLARE @create NVARCHAR(300) = N'CREATE DATABASE ' + QUOTENAME(%(name)s);"
                    " EXEC (@create); END",
                    {"name": settings.database},
                )
            return
        except Exception:
            if attempt == 5:
                raise
            time.sleep(attempt)


SERVICE_TABLES = ("armada_events", "armada_jobs", "armada_runs", "armada_job_activity",
                  "armada_leases", "armada_run_deletions", "armada_alert_outbox")
# Dropped with the tables, never emptied: its one row says the schema is there.
VERSION_TABLE = "armada_schema_version"


@functools.cache
def drop_mssql_schema(settings: MssqlSettings) -> None:
    """Drop the service's tables (their triggers and indexes go with them) in the dedicated
    test database: once per test run, so the run starts from the schema of this checkout."""
    create_mssql_database(settings)
    with mssql_connect(settings, settings.database) as connection, \
            connection.cursor() as cursor:
        for table in (*SERVICE_TABLES, VERSION_TABLE):
            cursor.execute(f"IF OBJECT_ID(N'dbo.{table}', N'U') IS NOT NULL DROP TABLE dbo.{table}")


# Between tests, the rows go through one connection kept for the whole run: a new connection
# to Babelfish costs its first statements a few tenths of a second each.
_RESET_CONNECTIONS: dict[MssqlSettings, Any] = {}
# The lease of the lost jobs' sweep is a row the schema made (migration 0005): made free again.
EMPTY_SERVICE_TABLES = ";\n".join((
    *(f"IF OBJECT_ID(N'dbo.{table}', N'U') IS NOT NULL DELETE FROM dbo.{table}"
      for table in SERVICE_TABLES if table != "armada_leases"),
    "IF OBJECT_ID(N'dbo.armada_leases', N'U') IS NOT NULL "
    "DELETE FROM dbo.armada_leases WHERE name <> N'lost_jobs'",
    "IF OBJECT_ID(N'dbo.armada_leases', N'U') IS NOT NULL "
    "UPDATE dbo.armada_leases SET holder = N'', expires = '1970-01-01T00:00:00'"))


def reset_mssql(settings: MssqlSettings) -> None:
    """Empty the service's tables so that each test starts with no rows; the schema is made
    once per run, by the first service that starts (a test about the schema drops it:
    `fresh_mssql_schema`)."""
    drop_mssql_schema(settings)
    for attempt in (1, 2):
        connection = _RESET_CONNECTIONS.get(settings)
        if connection is None:
            connection = _RESET_CONNECTIONS[settings] = mssql_connect(settings, settings.database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(EMPTY_SERVICE_TABLES)
            return
        except Exception:
            del _RESET_CONNECTIONS[settings]
            with contextlib.suppress(Exception):
                connection.close()
            if attempt == 2:
                raise


def fresh_mssql_schema(settings: MssqlSettings) -> None:
    """No service table at all, as on a database the service never saw."""
    drop_mssql_schema.cache_clear()
    drop_mssql_schema(settings)


@pytest.fixture(params=[
    "sqlite",
    pytest.param("mssql", marks=pytest.mark.skipif(
        not MSSQL_ENABLED, reason="set ARMADA_TEST_MSSQL to run against SQL Server")),
])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> SqliteSettings | MssqlSettings:
    if request.param == "mssql":
        settings = mssql_settings()
        reset_mssql(settings)
        return settings
    return SqliteSettings(path=tmp_path / "armada.db")


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "armada.db"


@pytest.fixture
def config(database: SqliteSettings | MssqlSettings) -> Config:
    return Config(database=database, db_timeout=2.0)


@pytest.fixture
async def client(aiohttp_client: Any, config: Config) -> TestClient:
    """The real app, served on 127.0.0.1 over real HTTP."""
    return await aiohttp_client(init_app(config))


@pytest.fixture
def make_client(aiohttp_client: Any, config: Config
                ) -> Callable[..., Awaitable[TestClient]]:
    """Start the app with some settings changed: `await make_client(ws_queue=3)`."""
    async def make(**changes: Any) -> TestClient:
        return await aiohttp_client(init_app(replace(config, **changes)))

    return make


@pytest.fixture
async def subscribe(client: TestClient) -> AsyncIterator[Callable[[], Awaitable[Any]]]:
    """Open WebSocket subscribers on the app; all are closed after the test."""
    opened: list[aiohttp.ClientWebSocketResponse] = []

    async def connect() -> aiohttp.ClientWebSocketResponse:
        ws = await client.ws_connect("/ws/events/")
        opened.append(ws)
        return ws

    yield connect
    for ws in opened:
        await ws.close()
