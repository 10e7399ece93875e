"""Upgrades by version (armada/store/migrations.py, docs/upgrades.md): a database made by each
schema the service has shipped (tests/fixtures/schemas/, rebuilt from git history by its
rebuild.py) upgrades to the newest and keeps every row; a start on an up-to-date database runs
one query; two instances starting together apply each migration once; a database newer than
the service is refused with one line. On SQLite, and on SQL Server with ARMADA_TEST_MSSQL."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import MSSQL_ENABLED, fresh_mssql_schema, mssql_connect, mssql_settings
from helpers import event_body
from server_process import free_port, run_service

from armada.app import init_app
from armada.config import Config, MssqlSettings, SqliteSettings
from armada.store import migrations
from armada.store.dialects import MssqlDialect, SqliteDialect
from armada.store.migrations import SchemaTooNew, load_migrations
from armada.store.queries import load_queries, split_statements
from armada.store.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "schemas"
LATEST = len(load_migrations("sqlite"))
ARMADA_TABLES = ("armada_runs", "armada_jobs", "armada_events")
# Made only for Armada's own keyless tables (operations.index_keyless_tables).
KEYLESS_INDEXES = {"ix_armada_runs_run_uuid", "ix_armada_jobs_job_uuid",
                   "ix_armada_events_event_uuid"}
SCHEMA_STATE = {dialect: load_queries(dialect)["schema_state"].statements
                for dialect in ("sqlite", "mssql")}
ON_MSSQL = pytest.mark.skipif(not MSSQL_ENABLED,
                              reason="set ARMADA_TEST_MSSQL to run against SQL Server")


def shipped(dialect: str) -> list[Any]:
    marks = [ON_MSSQL] if dialect == "mssql" else []
    return [pytest.param(path, id=path.stem, marks=marks)
            for path in sorted((FIXTURES / dialect).glob("*.sql"))]


def test_every_schema_shipped_before_versions_has_its_fixture():
    # Rebuilt by tests/fixtures/schemas/rebuild.py: Armada's own tables, then each schema.
    assert [path.stem for path in sorted((FIXTURES / "sqlite").glob("*.sql"))] == [
        "00_armada", "01_3062e40", "02_c0e80bd", "03_f0308e7", "04_386fe3c", "05_16e353b",
        "06_5e712bc", "07_47617b3", "08_2e9f3b7", "09_e87ad2d", "10_e606286"]
    assert [path.stem for path in sorted((FIXTURES / "mssql").glob("*.sql"))] == [
        "00_armada", "01_5d80cb3", "02_3ea029a", "03_f0308e7", "04_386fe3c", "05_16e353b",
        "06_5e712bc", "07_b528c42", "08_e87ad2d", "09_e606286", "10_263c568"]


def write_migration(root: Path, name: str, text: str) -> None:
    folder = root / "sqlite" / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.sql").write_text(text, encoding="utf-8")


def test_migrations_load_in_order_one_file_each(tmp_path: Path):
    write_migration(tmp_path, "0002_nothing_here", "-- A change the other dialect alone needs.\n")
    write_migration(tmp_path, "0001_tables", "CREATE TABLE a (b);\nCREATE TABLE c (d);\n")
    first, second = load_migrations("sqlite", tmp_path)
    assert (first.name, first.statements) == ("0001_tables", ("CREATE TABLE a (b)",
                                                              "CREATE TABLE c (d)"))
    assert (second.name, second.statements) == ("0002_nothing_here", ())


def test_migrations_with_a_gap_in_their_numbers_are_refused(tmp_path: Path):
    write_migration(tmp_path, "0001_tables", "CREATE TABLE a (b);\n")
    write_migration(tmp_path, "0003_later", "CREATE TABLE c (d);\n")
    with pytest.raises(ValueError, match=r"numbered \[1, 3\], not 1 to 2"):
        load_migrations("sqlite", tmp_path)


def test_a_migration_not_named_by_its_number_is_refused(tmp_path: Path):
    write_migration(tmp_path, "tables", "CREATE TABLE a (b);\n")
    with pytest.raises(ValueError, match=r"NNNN_name\.sql"):
        load_migrations("sqlite", tmp_path)


# SQLite


def sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as db:
        return {table: sorted(db.execute(f"SELECT * FROM {table}")) for table in ARMADA_TABLES}


def sqlite_objects(path: Path) -> set[tuple[str, str, str]]:
    """The service's tables, indexes and triggers, with their SQL (Armada's tables aside)."""
    with sqlite3.connect(path) as db:
        return {(kind, name, " ".join(sql.split())) for kind, name, sql in db.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")
            if name not in ARMADA_TABLES and name not in KEYLESS_INDEXES}


def make_sqlite_database(fixture: Path, path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(fixture.read_text(encoding="utf-8"))


def sqlite_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


async def start_and_stop(config: Config, dialect: Any = None) -> None:
    store = Store(config, dialect=dialect)
    try:
        await store.open()
    finally:
        await store.close()


@pytest.fixture
async def fresh_sqlite_objects(tmp_path: Path) -> set[tuple[str, str, str]]:
    path = tmp_path / "fresh.db"
    await start_and_stop(Config(database=SqliteSettings(path=path)))
    return sqlite_objects(path)


async def served_after_upgrade(client: Any) -> None:
    """The upgraded database serves reads and writes (its triggers included)."""
    runs = await (await client.get("/api/runs/")).json()
    assert {run["run_uuid"] for run in runs["runs"]} == {"run-1", "run-2"}
    event = event_body("event-new", "job-3")
    assert (await client.post("/api/events/", json=event)).status == 201
    assert (await client.get("/api/events/event-new")).status == 200


@pytest.mark.parametrize("fixture", shipped("sqlite"))
async def test_a_sqlite_database_of_each_shipped_schema_upgrades_and_keeps_every_row(
        fixture: Path, tmp_path: Path, aiohttp_client: Any,
        fresh_sqlite_objects: set[tuple[str, str, str]]):
    path = tmp_path / "armada.db"
    make_sqlite_database(fixture, path)
    await upgrades_and_keeps_every_row(path, aiohttp_client, fresh_sqlite_objects)


@pytest.mark.parametrize("version", range(1, LATEST))
async def test_a_sqlite_database_at_each_version_upgrades_and_keeps_every_row(
        version: int, tmp_path: Path, aiohttp_client: Any,
        fresh_sqlite_objects: set[tuple[str, str, str]]):
    path = tmp_path / "armada.db"
    make_sqlite_database_at(version, path)
    assert sqlite_version(path) == version
    await upgrades_and_keeps_every_row(path, aiohttp_client, fresh_sqlite_objects)


def make_sqlite_database_at(version: int, path: Path) -> None:
    """The migrations up to `version` applied as a start of that version applied them, then
    the fixtures' rows."""
    dialect = SqliteDialect(SqliteSettings(path=path), timeout=5.0)
    upto = load_migrations("sqlite")[:version]
    queries = {**load_queries("sqlite"), **{migration.name: migration for migration in upto}}
    rows = (FIXTURES / "sqlite" / "00_armada.sql").read_text(encoding="utf-8")
    connection = dialect.connect()
    try:
        migrations.prepare_schema(connection, dialect, queries, upto, "a test database")
        connection.executescript(rows[rows.index("-- Rows"):])
    finally:
        connection.close()


async def upgrades_and_keeps_every_row(path: Path, aiohttp_client: Any,
                                       fresh_objects: set[tuple[str, str, str]]) -> None:
    before = sqlite_rows(path)

    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=path))))
    await served_after_upgrade(client)
    await client.close()

    after = sqlite_rows(path)
    after["armada_events"] = [row for row in after["armada_events"] if row[0] != "event-new"]
    assert after == before
    assert sqlite_version(path) == LATEST
    assert sqlite_objects(path) == fresh_objects


class TracedSqlite(SqliteDialect):
    """SQLite as the service uses it, each statement its connections run recorded."""

    statements: list[str]

    def connect(self) -> sqlite3.Connection:
        connection = super().connect()
        connection.set_trace_callback(self.statements.append)
        return connection


async def test_a_sqlite_start_on_an_up_to_date_database_runs_one_query(tmp_path: Path):
    config = Config(database=SqliteSettings(path=tmp_path / "armada.db"))
    await start_and_stop(config)
    traced = TracedSqlite(config.database, config.db_timeout)
    traced.statements = []

    await start_and_stop(config, traced)

    # "-- PRAGMA": what the table-valued pragma functions of that one query run inside it.
    queries = [s for s in traced.statements
               if not s.startswith(("PRAGMA", "BEGIN", "COMMIT", "-- PRAGMA"))]
    assert queries == list(SCHEMA_STATE["sqlite"])


async def test_two_sqlite_instances_starting_together_apply_each_migration_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture):
    config = Config(database=SqliteSettings(path=tmp_path / "armada.db"), db_timeout=10.0)
    caplog.set_level(logging.INFO, logger="armada.store.migrations")

    await asyncio.gather(start_and_stop(config), start_and_stop(config))

    upgraded = [r.getMessage() for r in caplog.records if "schema upgraded" in r.getMessage()]
    assert len(upgraded) == LATEST, upgraded
    assert sqlite_version(config.database.path) == LATEST


@pytest.mark.external
def test_armada_serve_refuses_a_sqlite_database_newer_than_itself(tmp_path: Path):
    path = tmp_path / "armada.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST + 1}")

    result = run_service(tmp_path, ARMADA_DB_PATH=str(path), ARMADA_PORT=str(free_port()))

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"armada: configuration error: ARMADA_DB_PATH: SQLite at {path} has schema version "
        f"{LATEST + 1}, newer than this armada knows ({LATEST}): run the armada that upgraded "
        f"it, or newer"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone() == (0,)


# SQL Server


def mssql_run(settings: MssqlSettings, sql: str) -> list[tuple[Any, ...]]:
    with mssql_connect(settings, settings.database) as connection, \
            connection.cursor() as cursor:
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def mssql_rows(settings: MssqlSettings) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(mssql_run(settings, f"SELECT * FROM dbo.{table}"))
            for table in ARMADA_TABLES}


# The service's tables and triggers, and the indexes it names (a primary key's name may be
# the server's own); Babelfish's sys.indexes names are stable for a name and table.
MSSQL_OBJECTS = """
SELECT RTRIM(o.type), o.name FROM sys.objects AS o
WHERE o.name LIKE N'armada[_]%' AND RTRIM(o.type) IN ('U', 'TR')
UNION ALL
SELECT 'IX', i.name FROM sys.indexes AS i JOIN sys.objects AS o ON o.object_id = i.object_id
WHERE o.name LIKE N'armada[_]%' AND i.name LIKE N'ix[_]%'
"""


def mssql_objects(settings: MssqlSettings) -> set[tuple[str, str]]:
    return {(kind, name) for kind, name in mssql_run(settings, MSSQL_OBJECTS)
            if not name.startswith(tuple(KEYLESS_INDEXES))}


def mssql_version(settings: MssqlSettings) -> int:
    ((version,),) = mssql_run(settings, "SELECT version FROM dbo.armada_schema_version")
    return version


def make_mssql_database(fixture: Path, settings: MssqlSettings) -> None:
    fresh_mssql_schema(settings)
    with mssql_connect(settings, settings.database) as connection, \
            connection.cursor() as cursor:
        for statement in split_statements(fixture.read_text(encoding="utf-8"), "mssql"):
            cursor.execute(statement)


_FRESH_MSSQL: dict[MssqlSettings, set[tuple[str, str]]] = {}


async def fresh_mssql_objects(settings: MssqlSettings) -> set[tuple[str, str]]:
    if settings not in _FRESH_MSSQL:
        fresh_mssql_schema(settings)
        await start_and_stop(Config(database=settings, db_timeout=30.0))
        _FRESH_MSSQL[settings] = mssql_objects(settings)
    return _FRESH_MSSQL[settings]


@pytest.fixture
def mssql() -> MssqlSettings:
    return mssql_settings()


@pytest.mark.parametrize("fixture", shipped("mssql"))
async def test_a_sql_server_database_of_each_shipped_schema_upgrades_and_keeps_every_row(
        fixture: Path, mssql: MssqlSettings, aiohttp_client: Any):
    fresh = await fresh_mssql_objects(mssql)
    make_mssql_database(fixture, mssql)
    before = mssql_rows(mssql)

    client = await aiohttp_client(init_app(Config(database=mssql, db_timeout=30.0)))
    await served_after_upgrade(client)
    await client.close()

    after = mssql_rows(mssql)
    after["armada_events"] = [row for row in after["armada_events"] if row[0] != "event-new"]
    assert after == before
    assert mssql_version(mssql) == LATEST
    assert mssql_objects(mssql) == fresh
    fresh_mssql_schema(mssql)  # the next test's service makes this checkout's schema


class RecordedMssql(MssqlDialect):
    """SQL Server as the service uses it, each statement its cursors run recorded."""

    statements: list[str]

    def connect(self) -> Any:
        return _Recorded(super().connect(), self.statements)

    def close(self, connection: Any) -> None:
        super().close(connection._inner)  # the session itself is kept for the next store


class _Recorded:
    def __init__(self, inner: Any, statements: list[str]) -> None:
        self._inner = inner
        self._statements = statements

    def cursor(self) -> Any:
        return _Recorded(self._inner.cursor(), self._statements)

    def execute(self, statement: str, *args: Any) -> Any:
        self._statements.append(statement)
        return self._inner.execute(statement, *args)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@ON_MSSQL
async def test_a_sql_server_start_on_an_up_to_date_database_runs_one_query(
        mssql: MssqlSettings):
    config = Config(database=mssql, db_timeout=30.0)
    await start_and_stop(config)
    recorded = RecordedMssql(mssql, config.db_timeout)
    recorded.statements = []

    await start_and_stop(config, recorded)

    assert recorded.statements == [MssqlDialect.prepare(recorded, s)
                                   for s in SCHEMA_STATE["mssql"]]


@ON_MSSQL
async def test_two_sql_server_instances_starting_together_apply_each_migration_once(
        mssql: MssqlSettings, caplog: pytest.LogCaptureFixture):
    fresh_mssql_schema(mssql)
    config = Config(database=mssql, db_timeout=60.0)
    caplog.set_level(logging.INFO, logger="armada.store.migrations")

    await asyncio.gather(start_and_stop(config), start_and_stop(config))

    upgraded = [r.getMessage() for r in caplog.records if "schema upgraded" in r.getMessage()]
    assert len(upgraded) == LATEST, upgraded
    assert mssql_version(mssql) == LATEST


@pytest.mark.external
@ON_MSSQL
async def test_a_sql_server_database_newer_than_the_service_is_refused(
        mssql: MssqlSettings, tmp_path: Path):
    config = Config(database=mssql, db_timeout=30.0)
    await start_and_stop(config)
    mssql_run(mssql, f"UPDATE dbo.armada_schema_version SET version = {LATEST + 1}")
    try:
        with pytest.raises(SchemaTooNew):
            await start_and_stop(config)
        result = run_service(tmp_path, ARMADA_PORT=str(free_port()),
                             SQL_SERVER_NAME=mssql.server, SQL_SERVER_PORT=str(mssql.port),
                             SQL_SERVER_USER=mssql.user, SQL_SERVER_PASSWORD=mssql.password,
                             SQL_SERVER_DB=mssql.database)
    finally:
        mssql_run(mssql, f"UPDATE dbo.armada_schema_version SET version = {LATEST}")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"armada: configuration error: SQL_SERVER_DB: {mssql.describe()} has schema version "
        f"{LATEST + 1}, newer than this armada knows ({LATEST}): run the armada that upgraded "
        f"it, or newer"]
