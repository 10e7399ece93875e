"""Search at 1,000,000 events: `GET /api/events/?q=…&limit=50`, latency p50/p99 and the
server's CPU per query, for a rare word, a piece of an id, a word in every event, a word
within one job, and a term under 3 characters (LIKE); then what the index costs a write.

The rows go straight into a SQLite file of an earlier version (no search index); the
service then indexes them in the background at start-up, which is timed too (searches use
LIKE until it is complete). Queries are sent one at a time (closed loop), so the latency is
the query's own.

    python bench/search.py                 # 1,000,000 events (about 4 min)
    python bench/search.py --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
from common import REPO_ROOT, percentile, start_service

from armada import const

EVENTS_PER_JOB = 100
QUERIES = 200
START = datetime(2026, 1, 1)


def event_id(n: int) -> str:
    digest = hashlib.blake2b(str(n).encode(), digest_size=16).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def content(n: int) -> str:
    if n % 1000 == 0:
        return (f"Error: timeout waiting for selector #submit after 30000 ms\n"
                f"Traceback: session {event_id(n)} at step {n % 17}")
    return f"Step {n % 17}: page loaded in {n % 997} ms, session {event_id(n)}"


def legacy_database(path: Path, events: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript((REPO_ROOT / "sql/sqlite/migrations/0001_tables.sql").read_text())
        db.execute("BEGIN")
        db.execute("INSERT INTO armada_runs VALUES ('run-1', ?)", (START.isoformat(" "),))
        jobs = events // EVENTS_PER_JOB
        db.executemany("INSERT INTO armada_jobs VALUES (?, 'run-1', ?, 'agent', 'Running')",
                       ((f"job-{j:06d}", START.isoformat(" ")) for j in range(jobs)))
        db.executemany(
            "INSERT INTO armada_events VALUES (?, ?, ?, ?, 'Running')",
            ((f"event-{n:09d}", content(n), f"job-{n % jobs:06d}",
              (START + timedelta(milliseconds=n)).isoformat(" ", "microseconds"))
             for n in range(events)))
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def pending_rows(path: Path) -> int | None:
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT pending_to - pending_from FROM armada_search_progress"
                         ).fetchone()
        return None if row is None else int(row[0])
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


def wait_for_index(path: Path) -> None:
    while pending_rows(path) != 0:
        time.sleep(0.5)


async def timed_queries(url: str, query: str, count: int) -> tuple[list[float], int]:
    latencies, found = [], 0
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            started = time.perf_counter()
            async with session.get(f"{url}/api/events/?{query}") as response:
                body = await response.json()
                assert response.status == 200, body
            latencies.append(time.perf_counter() - started)
            found = len(body["events"])
    return latencies, found


def write_cost(events: int = 20_000, commit_rows: int = 20,
               root: Path = REPO_ROOT) -> tuple[float, float]:
    """CPU µs per event inserted in commits of `commit_rows` (as group commit has them under
    load), without and with the search index: its queue, indexed SEARCH_QUEUE_CHUNK rows at
    a time in a transaction of its own, as the service does (the SQL of `root`)."""
    index_queue = [statement for statement in
                   (root / "sql/sqlite/index_queued_events.sql").read_text().split(";")
                   if statement.strip()]
    costs = []
    for indexed in (False, True):
        with tempfile.TemporaryDirectory() as folder:
            db = sqlite3.connect(Path(folder) / "w.db", isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript((root / "sql/sqlite/migrations/0001_tables.sql").read_text())
            db.executescript((root / "sql/sqlite/migrations/0002_indexes.sql").read_text())
            if indexed:
                db.executescript((root / "sql/sqlite/migrations/0004_search_index.sql").read_text())
            started = time.process_time()
            for first in range(0, events, commit_rows):
                db.execute("BEGIN")
                db.executemany("INSERT INTO armada_events VALUES (?, ?, 'job-1', ?, 'Running')",
                               ((f"e-{n:09d}", content(n), "2026-01-01 00:00:00.000000")
                                for n in range(first, first + commit_rows)))
                db.execute("COMMIT")
                if indexed and (first + commit_rows) % const.SEARCH_QUEUE_CHUNK == 0:
                    db.execute("BEGIN")
                    for statement in index_queue:
                        db.execute(statement, {"chunk_rows": const.SEARCH_QUEUE_CHUNK,
                                               "last_rowid": first + commit_rows})
                    db.execute("COMMIT")
            costs.append((time.process_time() - started) / events * 1e6)
            db.close()
    return costs[0], costs[1]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "armada.db"
        started = time.monotonic()
        legacy_database(path, args.events)
        print(f"{args.events:,} events written in {time.monotonic() - started:.0f} s")
        server = start_service(path)
        try:
            started = time.monotonic()
            await asyncio.to_thread(wait_for_index, path)
            print(f"search index built in the background at start-up: "
                  f"{time.monotonic() - started:.0f} s")
            piece = event_id(args.events // 2)[9:23]
            cases = [
                ("rare word (1 in 1,000 events)", "q=timeout&limit=50"),
                ("piece of an id (1 event)", f"q={piece}&limit=50"),
                ("word in every event", "q=loaded&limit=50"),
                ("two words, every event", "q=page+loaded&limit=50"),
                ("rare word within one job", "q=timeout&job_uuid=job-000000&limit=50"),
                ("term under 3 characters (LIKE)", "q=ms&limit=50"),
                ("rare word, 20th page", None),
            ]
            for label, query in cases:
                if query is None:
                    query = await twentieth_page(server.url)
                cpu_before = server.cpu_seconds()
                latencies, found = await timed_queries(server.url, query, QUERIES)
                cpu = (server.cpu_seconds() - cpu_before) / QUERIES
                print(f"{label:34} found {found:3}  p50 {percentile(latencies, 50) * 1e3:7.1f} ms"
                      f"  p99 {percentile(latencies, 99) * 1e3:7.1f} ms"
                      f"  server CPU {cpu * 1e3:7.2f} ms/query")
            print(f"server peak RSS {server.peak_rss_mb():.0f} MB")
        finally:
            server.stop()
    without, with_index = write_cost()
    print(f"CPU per event insert (commits of 20): {without:.0f} µs without the "
          f"index, {with_index:.0f} µs with it")


async def twentieth_page(url: str) -> str:
    cursor = None
    async with aiohttp.ClientSession() as session:
        for _ in range(19):
            query = "q=timeout&limit=50" + (f"&before={cursor}" if cursor else "")
            async with session.get(f"{url}/api/events/?{query}") as response:
                cursor = (await response.json())["next"]
    return f"q=timeout&limit=50&before={cursor}"


if __name__ == "__main__":
    asyncio.run(main())
