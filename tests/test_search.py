"""`q=`: the events whose content contains words (SQLite: the trigram index, kept in step by
triggers; LIKE for short terms and while an existing database is being indexed), the runs
and jobs whose ids (and agents) contain a piece of text. Through the running service."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import string
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from helpers import event_body, job_body
from server_process import ServiceProcess

from armada.config import Config, SqliteSettings
from armada.store import Store

SESSION_ID = "7f3a9c21-5e0b-4d6a-9b1e-0c2d4f6a8b10"


# The search index is SQLite's (FTS5): SQL Server searches by LIKE and has none to look into.
FTS5_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


async def post(client, path: str, body: dict) -> Any:
    response = await client.post(path, json=body)
    assert response.status in (200, 201), await response.text()
    return await response.json()


async def search(client, query: str) -> Any:
    response = await client.get(f"/api/events/?{query}")
    assert response.status == 200, await response.text()
    return await response.json()


def uuids(events: list[dict[str, Any]]) -> list[str]:
    return [event["event_uuid"] for event in events]


@pytest.fixture
async def events(client) -> AsyncIterator[Any]:
    """Two runs, three jobs; timeouts in two of them, at known instants."""
    await post(client, "/api/jobs/", job_body("job-a", "run-1", job_associated_agent="agent-7"))
    await post(client, "/api/jobs/", job_body("job-b", "run-1", job_associated_agent="agent-9"))
    await post(client, "/api/jobs/", job_body("job-c", "run-2", job_associated_agent="agent-7"))
    for uuid, job, second, content, status in (
        ("e1", "job-a", 1, "Page loaded", "Running"),
        ("e2", "job-a", 2, "Error: Timeout waiting for selector #login", "Failed"),
        ("e3", "job-b", 3, f"Connecting, session {SESSION_ID}", "Running"),
        ("e4", "job-b", 4, "Traceback: requests.exceptions.ReadTimeout: read timeout=30",
         "Failed"),
        ("e5", "job-c", 5, "Form submitted in 42 ms", "Success"),
        ("e6", "job-c", 6, "timeout of 42 s reached, retrying", "Running"),
    ):
        await post(client, "/api/events/", event_body(
            uuid, job, event_content=content, event_status=status,
            event_datetime=f"2026-02-24T10:00:0{second}.000"))
    return client


async def test_a_word_is_found_in_every_job_newest_first_whatever_its_case(events):
    assert uuids(await search(events, "q=timeout")) == ["e6", "e4", "e2"]
    assert uuids(await search(events, "q=TIMEOUT")) == ["e6", "e4", "e2"]


async def test_a_piece_of_a_word_is_found(events):
    assert uuids(await search(events, "q=meou")) == ["e6", "e4", "e2"]
    assert uuids(await search(events, "q=electo")) == ["e2"]


async def test_a_piece_of_an_id_is_found_across_jobs_and_within_one(events):
    assert uuids(await search(events, f"q={SESSION_ID}")) == ["e3"]
    assert uuids(await search(events, "q=9c21-5e0b")) == ["e3"]
    assert uuids(await search(events, "q=9c21-5e0b&job_uuid=job-b")) == ["e3"]
    assert await search(events, "q=9c21-5e0b&job_uuid=job-a") == []


async def test_a_word_within_one_job(events):
    assert uuids(await search(events, "q=timeout&job_uuid=job-b")) == ["e4"]
    assert await search(events, "q=timeout&job_uuid=nobody") == []


async def test_every_word_must_be_in_the_content_short_ones_too(events):
    assert uuids(await search(events, "q=timeout+retrying")) == ["e6"]
    assert uuids(await search(events, "q=42")) == ["e6", "e5"]  # under 3 characters: LIKE
    assert uuids(await search(events, "q=42+timeout")) == ["e6"]
    assert await search(events, "q=timeout+nowhere") == []


async def test_search_combines_with_status_and_since_until(events):
    assert uuids(await search(events, "q=timeout&status=failed")) == ["e4", "e2"]
    assert uuids(await search(
        events, "q=timeout&since=2026-02-24T10:00:02&until=2026-02-24T10:00:06")) == ["e4", "e2"]


async def test_query_syntax_and_like_wildcards_in_q_are_plain_text(events):
    for q in ('%22timeout', "NEAR(timeout", "time*", "%25", "_", "a%22+OR+%22b", "\\"):
        response = await events.get(f"/api/events/?q={q}")
        assert response.status == 200, (q, await response.text())
    assert await search(events, "q=%25") == []
    assert await search(events, "q=_") == []
    assert uuids(await search(events, "q=%23login")) == ["e2"]


async def test_q_is_one_to_four_words(events):
    for q in ("", "+", "a+b+c+d+e"):
        response = await events.get(f"/api/events/?q={q}")
        assert response.status == 422, q
        assert "q" in (await response.json())["fields"]


@pytest.mark.parametrize("query", ["q=abc%00&limit=5", "q=abc%00", "q=Page+lo%00aded"])
async def test_a_nul_in_q_is_a_422_not_a_database_outage(events, caplog, query):
    caplog.set_level(logging.WARNING, logger="armada.store")
    response = await events.get(f"/api/events/?{query}")
    assert response.status == 422
    assert (await response.json())["fields"] == {
        "q": ["Contains code point 0 (NUL), which cannot be stored."]}
    assert (await events.get("/readyz")).status == 200
    assert [record.getMessage() for record in caplog.records
            if record.name.startswith("armada.store")] == []


async def test_paging_through_a_search_gives_each_match_once_newest_first(client):
    await post(client, "/api/jobs/", job_body("job-a", "run-1"))
    await post(client, "/api/jobs/", job_body("job-b", "run-1"))
    await post(client, "/api/events/batch", {"events": [
        event_body(f"e{n:02d}", "job-a" if n % 2 else "job-b",
                   event_content=f"step {n} " + ("timeout" if n % 3 else "fine"),
                   event_datetime=f"2026-02-24T10:00:{n:02d}.000")
        for n in range(30)]})
    expected = [f"e{n:02d}" for n in reversed(range(30)) if n % 3]
    seen, cursor, pages = [], None, 0
    while True:
        query = "q=timeout&limit=4" + (f"&before={cursor}" if cursor else "")
        page = await search(client, query)
        seen += uuids(page["events"])
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == 5
    page = await search(client, "q=timeout&job_uuid=job-a&limit=100")
    assert uuids(page["events"]) == [u for u in expected if int(u[1:]) % 2]


async def test_a_search_of_many_matches_is_streamed_whole(client):
    await post(client, "/api/jobs/", job_body("job-a", "run-1"))
    for first in range(0, 600, 300):
        await post(client, "/api/events/batch", {"events": [
            event_body(f"e{n:04d}", "job-a", event_content=f"timeout {n}",
                       event_datetime=f"2026-02-24T10:{n // 60:02d}:{n % 60:02d}.000")
            for n in range(first, first + 300)]})
    response = await client.get("/api/events/?q=timeout")
    assert response.headers.get("Transfer-Encoding") == "chunked"
    assert uuids(await response.json()) == [f"e{n:04d}" for n in reversed(range(600))]


async def test_a_deleted_run_is_no_longer_found(events):
    response = await events.delete("/api/runs/run-2")
    assert response.status == 200
    assert uuids(await search(events, "q=timeout")) == ["e4", "e2"]


async def test_runs_q_finds_pieces_of_run_uuids(client):
    for uuid in ("run-alpha-1", "run-beta-2", "run-alpha-3"):
        await post(client, "/api/runs/", {"run_uuid": uuid, "run_datetime": "2026-02-24T10:00"})
    answer = await (await client.get("/api/runs/?q=alpha")).json()
    assert [run["run_uuid"] for run in answer["runs"]] == ["run-alpha-3", "run-alpha-1"]
    assert answer["total"] == 2
    answer = await (await client.get("/api/runs/?q=a-3&page_size=1")).json()
    assert [run["run_uuid"] for run in answer["runs"]] == ["run-alpha-3"]
    answer = await (await client.get("/api/runs/?q=%25")).json()
    assert answer == {"runs": [], "total": 0, "page": 1, "page_size": 10}


async def test_jobs_q_finds_pieces_of_job_uuids_and_agents(events):
    answer = await (await events.get("/api/jobs/?q=agent-7")).json()
    assert sorted(job["job_uuid"] for job in answer["jobs"]) == ["job-a", "job-c"]
    answer = await (await events.get("/api/jobs/?q=b-b")).json()
    assert [job["job_uuid"] for job in answer["jobs"]] == ["job-b"]
    answer = await (await events.get("/api/jobs/?q=agent-7&run_uuid=run-2")).json()
    assert [job["job_uuid"] for job in answer["jobs"]] == ["job-c"]
    assert answer["total"] == 1


# An existing database: indexed at start-up in the background


def legacy_database(path: Path, events: int) -> None:
    """A database of an earlier version: the tables and their rows, no search index."""
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("CREATE TABLE armada_runs (run_uuid TEXT PRIMARY KEY, "
                           "run_datetime DATETIME)")
        connection.execute("CREATE TABLE armada_jobs (job_uuid TEXT PRIMARY KEY, run_uuid TEXT, "
                           "job_datetime DATETIME, job_associated_agent TEXT, job_status TEXT)")
        connection.execute("CREATE TABLE armada_events (event_uuid TEXT PRIMARY KEY, "
                           "event_content TEXT, job_uuid TEXT, event_datetime DATETIME, "
                           "event_status TEXT)")
        connection.execute("INSERT INTO armada_runs VALUES ('run-1', '2026-02-24 10:00:00')")
        connection.execute("INSERT INTO armada_jobs VALUES ('job-1', 'run-1', "
                           "'2026-02-24 10:00:00', 'agent', 'Running')")
        connection.executemany("INSERT INTO armada_events VALUES (?, ?, 'job-1', ?, 'Running')", (
            (f"old-{n:06d}", f"step {n} " + ("timeout" if n % 1000 == 0 else "ok"),
             f"2026-02-24 10:{(n // 60000) % 60:02d}:{(n // 1000) % 60:02d}.{n % 1000:03d}000")
            for n in range(events)))
    connection.close()


def pending_rows(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        row = connection.execute("SELECT pending_to - pending_from FROM armada_search_progress"
                                 ).fetchone()
        return int(row[0])
    finally:
        connection.close()


def queued_rows(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT COUNT(*) FROM armada_search_queue").fetchone()[0]
    finally:
        connection.close()


def index_matches(path: Path, match: str) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT COUNT(*) FROM armada_events_search "
                                  "WHERE armada_events_search MATCH ?", (match,)).fetchone()[0]
    finally:
        connection.close()


async def indexed(path: Path, within: float = 10.0) -> None:
    """Wait until the service's background task has indexed every queued event."""
    deadline = time.monotonic() + within
    while await asyncio.to_thread(queued_rows, path):
        assert time.monotonic() < deadline, "queued events were never indexed"
        await asyncio.sleep(0.05)


def integrity_check(path: Path) -> None:
    """FTS5's own check that the index holds exactly the content table's text."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute("INSERT INTO armada_events_search (armada_events_search, rank) "
                               "VALUES ('integrity-check', 1)")
    finally:
        connection.close()


@pytest.fixture
async def legacy_service(tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    legacy_database(tmp_path / "armada.db", 60_000)
    service = ServiceProcess(tmp_path / "armada.db", tmp_path)
    await asyncio.to_thread(service.start)
    yield service
    await asyncio.to_thread(service.stop)


@pytest.mark.external
async def test_an_existing_database_is_indexed_in_the_background_and_searches_meanwhile(
        legacy_service):
    url, path = legacy_service.url, legacy_service.db_path
    expected = [f"old-{n:06d}" for n in reversed(range(0, 60_000, 1000))]
    async with aiohttp.ClientSession() as session:
        # Written while the index is being built: the triggers leave no gap and no double.
        for uuid, content in (("new-1", "fresh timeout"), ("new-2", "fresh ok")):
            async with session.post(f"{url}/api/events/", json=event_body(
                    uuid, "job-1", event_content=content,
                    event_datetime="2026-02-24T11:00:00")) as response:
                assert response.status == 201
        answers, during = [], 0
        deadline = time.monotonic() + 60
        while True:
            building = pending_rows(path) > 0
            started = time.monotonic()
            async with session.get(f"{url}/api/events/?q=timeout&limit=1000") as response:
                assert response.status == 200
                answers.append(uuids((await response.json())["events"]))
            during += building
            if not building:
                break
            assert time.monotonic() - started < 5
            assert time.monotonic() < deadline, "the index was never complete"
            await asyncio.sleep(0.05)
        # The old rows are in the index now; the one that was old then deleted never was.
        async with session.delete(f"{url}/api/runs/run-1") as response:
            assert response.status == 200
        async with session.get(f"{url}/api/events/?q=timeout") as response:
            assert await response.json() == []
    assert during >= 1, "the index was complete before the first search"
    assert all(answer == ["new-1", *expected] for answer in answers)
    integrity_check(path)


@FTS5_ONLY
async def test_the_search_index_holds_exactly_the_events_after_writes_and_deletes(
        client, sqlite_path):
    await post(client, "/api/jobs/", job_body("job-a", "run-1"))
    await post(client, "/api/jobs/", job_body("job-b", "run-2"))
    await post(client, "/api/events/batch", {"events": [
        event_body(f"e{n}", "job-a" if n % 2 else "job-b", event_content=f"content {n}")
        for n in range(20)]})
    await indexed(sqlite_path)
    # Queued, not indexed yet: some of them are deleted from the queue with their run.
    await post(client, "/api/events/batch", {"events": [
        event_body(f"e{n}", "job-a" if n % 2 else "job-b", event_content=f"content {n}")
        for n in range(20, 30)]})
    await client.delete("/api/runs/run-2")
    # One instant for all: newest first is then the greatest uuid first.
    expected = sorted((f"e{n}" for n in range(1, 30, 2)), reverse=True)
    assert uuids((await search(client, "q=content&limit=100"))["events"]) == expected
    await indexed(sqlite_path)
    await asyncio.to_thread(integrity_check, sqlite_path)
    assert uuids((await search(client, "q=content&limit=100"))["events"]) == expected


@FTS5_ONLY
async def test_a_new_event_is_found_at_once_then_indexed_in_the_background(client, sqlite_path):
    await post(client, "/api/jobs/", job_body("job-a", "run-1"))
    await indexed(sqlite_path)

    await post(client, "/api/events/", event_body("e1", "job-a", event_content="needle-7f3a"))
    # Before the background indexing has run: the queue holds it, the search finds it.
    found_at_once = uuids(await search(client, "q=7f3a"))
    queued_then = await asyncio.to_thread(queued_rows, sqlite_path)
    await indexed(sqlite_path)

    assert found_at_once == ["e1"]
    assert queued_then == 1
    assert await asyncio.to_thread(index_matches, sqlite_path, '"7f3a"') == 1
    assert uuids(await search(client, "q=7f3a")) == ["e1"]


def previous_version_database(path: Path) -> None:
    """A database of the version whose triggers indexed each event in its own write."""
    connection = sqlite3.connect(path)
    with connection:
        connection.executescript("""
            CREATE TABLE armada_runs (run_uuid TEXT PRIMARY KEY, run_datetime DATETIME);
            CREATE TABLE armada_jobs (job_uuid TEXT PRIMARY KEY, run_uuid TEXT,
                job_datetime DATETIME, job_associated_agent TEXT, job_status TEXT);
            CREATE TABLE armada_events (event_uuid TEXT PRIMARY KEY, event_content TEXT,
                job_uuid TEXT, event_datetime DATETIME, event_status TEXT);
            CREATE TABLE armada_search_progress (name TEXT NOT NULL PRIMARY KEY,
                pending_from INTEGER NOT NULL, pending_to INTEGER NOT NULL);
            INSERT INTO armada_search_progress VALUES ('armada_events', 0, 0);
            CREATE VIRTUAL TABLE armada_events_search USING fts5(
                event_content, content='armada_events', tokenize='trigram');
            CREATE TRIGGER armada_events_search_insert AFTER INSERT ON armada_events
            BEGIN INSERT INTO armada_events_search (rowid, event_content)
                VALUES (new.rowid, new.event_content); END;
            CREATE TRIGGER armada_events_search_delete AFTER DELETE ON armada_events
            BEGIN INSERT INTO armada_events_search (armada_events_search, rowid, event_content)
                VALUES ('delete', old.rowid, old.event_content); END;
            INSERT INTO armada_runs VALUES ('run-1', '2026-02-24 10:00:00.000');
            INSERT INTO armada_jobs VALUES ('job-1', 'run-1', '2026-02-24 10:00:00.000',
                'agent', 'Running');
            INSERT INTO armada_events VALUES ('old-1', 'old timeout', 'job-1',
                '2026-02-24 10:00:01.000', 'Running');
        """)
    connection.close()


async def test_a_database_of_the_row_by_row_index_moves_to_the_queue_each_row_indexed_once(
        aiohttp_client, tmp_path: Path):
    from armada.app import init_app
    from armada.config import Config, SqliteSettings

    path = tmp_path / "armada.db"
    previous_version_database(path)
    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=path))))

    await post(client, "/api/events/", event_body("new-1", "job-1", event_content="new timeout",
                                                  event_datetime="2026-02-24T10:00:02"))
    await indexed(path)
    assert uuids(await search(client, "q=timeout")) == ["new-1", "old-1"]
    assert (await client.delete("/api/runs/run-1")).status == 200
    assert uuids(await search(client, "q=timeout")) == []
    # Indexed twice (old trigger and queue) or left in the index, this check fails.
    await asyncio.to_thread(integrity_check, path)
    assert await asyncio.to_thread(index_matches, path, '"timeout"') == 0


@pytest.mark.slow
@pytest.mark.external
async def test_events_queued_for_the_index_when_the_service_is_killed_are_found_and_indexed_after(
        tmp_path: Path):
    path = tmp_path / "armada.db"
    service = ServiceProcess(path, tmp_path)
    expected: list[str] = []
    try:
        # The kill must come before the background indexing's next turn (every 0.5 s):
        # tried again, with new events, in the rare case it did not.
        for attempt in range(5):
            await asyncio.to_thread(service.start)
            async with aiohttp.ClientSession() as session:
                if attempt == 0:
                    async with session.post(f"{service.url}/api/jobs/",
                                            json=job_body("job-1", "run-1")) as response:
                        assert response.status == 201
                events = [event_body(f"e{attempt}-{n:03d}", "job-1",
                                     event_content=f"killed-{n:03d} timeout") for n in range(200)]
                async with session.post(f"{service.url}/api/events/batch",
                                        json={"events": events}) as response:
                    assert response.status == 201
            await asyncio.to_thread(service.kill)
            expected += [f"e{attempt}-{n:03d}" for n in range(100, 200)]
            if await asyncio.to_thread(queued_rows, path):
                break
        else:
            raise AssertionError("the events were indexed before every kill")

        await asyncio.to_thread(service.start)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{service.url}/api/events/?q=killed-1&limit=1000") as response:
                found = uuids((await response.json())["events"])
            await indexed(path)
            async with session.get(f"{service.url}/api/events/?q=killed-1&limit=1000") as response:
                found_indexed = uuids((await response.json())["events"])
    finally:
        await asyncio.to_thread(service.stop)

    # One instant for all: newest first is then the greatest uuid first.
    assert found == sorted(expected, reverse=True)
    assert found_indexed == found
    await asyncio.to_thread(integrity_check, path)


# Indexing large events: bounded chunks, agents' writes first


def random_text(seed: int, length: int) -> str:
    """Text of many distinct trigrams: the costliest to index per character."""
    generator = random.Random(seed)
    return "".join(generator.choices(string.ascii_letters + string.digits, k=length))


async def test_a_chunk_of_the_queue_indexes_its_budget_of_text_and_one_event_at_least(
        sqlite_path: Path):
    store = Store(Config(database=SqliteSettings(path=sqlite_path)))
    try:
        when = datetime(2026, 2, 24, 10, 30)
        await store.create_job({"job_uuid": "job-1", "run_uuid": "run-1", "job_datetime": when,
                                "job_associated_agent": "agent-1", "job_status": "Running"})
        await store.create_events([
            {"event_uuid": f"e{n}", "event_content": "z" * 600, "job_uuid": "job-1",
             "event_datetime": when, "event_status": "Running"} for n in range(6)])
        left = [await asyncio.to_thread(queued_rows, sqlite_path)]
        for chunk_rows, chunk_characters in ((500, 1300), (500, 10), (2, 100_000), (500, 600)):
            await store.index_queued_events(chunk_rows, chunk_characters)
            left.append(await asyncio.to_thread(queued_rows, sqlite_path))
    finally:
        await store.close()

    assert left == [6, 4, 3, 1, 0]
    await asyncio.to_thread(integrity_check, sqlite_path)


@pytest.mark.slow
@FTS5_ONLY
async def test_a_write_waits_for_one_chunk_of_the_search_index_not_for_all_the_large_events(
        client, sqlite_path: Path):
    await post(client, "/api/jobs/", job_body("job-a", "run-1"))
    await indexed(sqlite_path)
    large = [event_body(f"large-{n}", "job-a", event_content=random_text(n, 50_000))
             for n in range(20)]
    # Posted together (a commit or two): then all are queued for the same turn of indexing.
    await asyncio.gather(*(post(client, "/api/events/", body) for body in large))

    started = time.monotonic()
    latencies = []
    while await asyncio.to_thread(queued_rows, sqlite_path):
        assert time.monotonic() - started < 120, "the large events were never indexed"
        run = {"run_uuid": f"small-{len(latencies)}", "run_datetime": "2026-02-24T10:30:00.000"}
        write_started = time.monotonic()
        await post(client, "/api/runs/", run)
        latencies.append(time.monotonic() - write_started)
    indexing = time.monotonic() - started

    # Indexing them all took seconds; a write waited for one event's chunk at most.
    assert len(latencies) >= 5, (latencies, indexing)
    assert max(latencies) < indexing / 4, (max(latencies), indexing)
    assert uuids(await search(client, f"q={large[7]['event_content'][5000:5020]}")) \
        == ["large-7"]
    await asyncio.to_thread(integrity_check, sqlite_path)
