"""Export of a run of 1,000,000 events: `GET /api/runs/{run_uuid}/export` (NDJSON, then
CSV), read to the end by a client that counts lines; the server's resident memory (VmRSS)
before and at most during, and the time.

The service creates its schema first (and with it the search index); the rows then go
straight into the SQLite file, the index's triggers dropped meanwhile and the index rebuilt
after, so the prefill takes seconds rather than minutes.

    python bench/export.py                   # 1,000,000 events in one run of 100 jobs
    python bench/export.py --events 200000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
from common import start_service

JOBS = 100
START = datetime(2026, 1, 1)
MB = 1024 * 1024


def prefill(path: Path, events: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN")
        for trigger in ("insert", "delete", "update"):
            db.execute(f"DROP TRIGGER IF EXISTS armada_events_search_{trigger}")
        db.execute("INSERT INTO armada_runs VALUES ('run-big', ?)", (START.isoformat(" "),))
        db.executemany("INSERT INTO armada_jobs VALUES (?, 'run-big', ?, 'agent', 'Running')",
                       ((f"job-{j:04d}", START.isoformat(" ")) for j in range(JOBS)))
        db.executemany(
            "INSERT INTO armada_events VALUES (?, ?, ?, ?, 'Running')",
            ((f"event-{n:09d}", f"Step {n % 17}: page loaded in {n % 997} ms, form submitted",
              f"job-{n % JOBS:04d}",
              (START + timedelta(milliseconds=n)).isoformat(" ", "microseconds"))
             for n in range(events)))
        db.execute("INSERT INTO armada_events_search (armada_events_search) VALUES ('rebuild')")
        db.execute("COMMIT")
    finally:
        db.close()


def resident_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def export(url: str, pid: int, kind: str) -> tuple[int, int, float, int]:
    """(lines, bytes, seconds, peak RSS) of one export read to its end."""
    lines = size = 0
    peak = resident_bytes(pid)
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(f"{url}/api/runs/run-big/export?format={kind}") as response:
            assert response.status == 200
            async for line in response.content:
                lines += 1
                size += len(line)
                if lines % 50_000 == 0:
                    peak = max(peak, resident_bytes(pid))
    return lines, size, time.monotonic() - started, peak


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "armada.db"
        server = start_service(path)  # creates the tables
        server.stop()
        prefill(path, args.events)
        server = start_service(path)
        try:
            before = resident_bytes(server.pid)
            for kind in ("ndjson", "csv"):
                lines, size, seconds, peak = await export(server.url, server.pid, kind)
                print(f"{kind:6}: {lines:,} lines, {size / MB:.0f} MB in {seconds:.1f} s "
                      f"({args.events / seconds:,.0f} events/s); server RSS {before / MB:.0f} "
                      f"MB before, {peak / MB:.0f} MB at most during")
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
