"""The schema the service makes at start: on a database it never saw, then again on the same
database, as a deployment restarts. On SQLite, and on SQL Server with ARMADA_TEST_MSSQL."""

from __future__ import annotations

from typing import Any

from conftest import fresh_mssql_schema
from helpers import event_body, job_body

from armada.app import init_app
from armada.config import Config, MssqlSettings, SqliteSettings


async def test_a_restart_on_the_same_database_keeps_the_schema_and_every_row(
        aiohttp_client: Any, database: SqliteSettings | MssqlSettings):
    if isinstance(database, MssqlSettings):
        fresh_mssql_schema(database)
    config = Config(database=database, db_timeout=5.0)
    for start in range(3):
        client = await aiohttp_client(init_app(config))
        job = job_body(f"job-{start}")
        assert (await client.post("/api/jobs/", json=job)).status == 201
        event = event_body(f"event-{start}", f"job-{start}")
        assert (await client.post("/api/events/", json=event)).status == 201
        jobs = await (await client.get("/api/jobs/", params={"page_size": 100})).json()
        assert sorted(job["job_uuid"] for job in jobs["jobs"]) == [
            f"job-{number}" for number in range(start + 1)]
        await client.close()
