"""Reads at a fixed 300 requests/s (open loop): the runs page, the jobs of a run, the
events of a job, in turn, against databases pre-filled with 10,000 and 1,000,000 events;
the bare aiohttp app at the same load with the same client, for the CPU ratio.

The service creates its schema first; the rows then go straight into the SQLite file
(executemany, in the service's text datetime form), which takes seconds, not hours.

    python bench/read.py              # full: 20 s per size, 3 repetitions (about 5 min)
    python bench/read.py --quick      # smoke run: 3 s, 1 repetition, 10,000 and 100,000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from common import (
    Figures,
    Request,
    bare_load,
    measure,
    record_load,
    run_lanes,
    start_service,
    verdict,
)

RATE = 300.0
LANES = 32
EVENTS_PER_JOB = 10
JOBS_PER_RUN = 100
SIZES = (10_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
BARE_SECONDS = 10.0
START = datetime(2026, 1, 1)

TARGET_P99_MS = 20.0
TARGET_CPU_RATIO = 3.0


def text(moment: datetime) -> str:
    """The service's SQLite datetime text form."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def prefill(db_path: Path, events: int) -> tuple[int, int]:
    """Add `events` events (10 per job, 100 jobs per run); answers (runs, jobs)."""
    jobs = events // EVENTS_PER_JOB
    runs = max(1, jobs // JOBS_PER_RUN)
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO armada_runs (run_uuid, run_datetime) VALUES (?, ?)",
            ((f"run-{r:07d}", text(START + timedelta(minutes=r))) for r in range(runs)))
        db.executemany(
            "INSERT INTO armada_jobs (job_uuid, run_uuid, job_datetime, job_associated_agent,"
            " job_status) VALUES (?, ?, ?, ?, ?)",
            ((f"job-{j:08d}", f"run-{j // JOBS_PER_RUN:07d}",
              text(START + timedelta(minutes=j // JOBS_PER_RUN, seconds=j % JOBS_PER_RUN)),
              f"agent-{j % 32}", "Success") for j in range(jobs)))
        db.executemany(
            "INSERT INTO armada_events (event_uuid, event_content, job_uuid, event_datetime,"
            " event_status) VALUES (?, ?, ?, ?, ?)",
            ((f"event-{e:09d}", f"Step {e % EVENTS_PER_JOB}: page loaded, form submitted",
              f"job-{e // EVENTS_PER_JOB:08d}",
              text(START + timedelta(seconds=e // EVENTS_PER_JOB, milliseconds=e % 1000)),
              "Success") for e in range(events)))
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return runs, jobs


def read_lanes(runs: int, jobs: int) -> list[Callable[[], Request | None]]:
    """Each lane asks, in turn, a runs page, the jobs of a run, the events of a job."""
    def lane(seed: int) -> Iterator[Request]:
        chosen = random.Random(seed)
        while True:
            yield ("GET", "/api/runs/", None, {"page": "1", "page_size": "10"})
            yield ("GET", "/api/jobs/", None,
                   {"run_uuid": f"run-{chosen.randrange(runs):07d}", "page": "1",
                    "page_size": "10"})
            yield ("GET", "/api/events/", None, {"job_uuid": f"job-{chosen.randrange(jobs):08d}"})

    return [lane(seed).__next__ for seed in range(LANES)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 s, 1 repetition, 10,000 and 100,000 events")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per size (default 20)")
    parser.add_argument("--sizes", help="comma-separated event counts (default 10000,1000000)")
    parser.add_argument("--profile", type=Path,
                        help="run the service under py-spy: collapsed stacks into this folder")
    args = parser.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    duration = args.duration or (3.0 if args.quick else 20.0)
    sizes = tuple(int(size) for size in args.sizes.split(",")) if args.sizes else \
        (QUICK_SIZES if args.quick else SIZES)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="armada-bench-") as folder:
        databases = {}
        for size in sizes:
            db_path = Path(folder) / f"events-{size}.db"
            with start_service(db_path):
                pass  # the service creates its tables and indexes
            started = time.monotonic()
            runs, jobs = prefill(db_path, size)
            print(f"pre-filled {size:,} events, {jobs:,} jobs, {runs:,} runs "
                  f"in {time.monotonic() - started:.1f} s", flush=True)
            databases[size] = (db_path, runs, jobs)

        for rep in range(1, reps + 1):
            print(f"repetition {rep}/{reps}", flush=True)
            bare = await bare_load(read_lanes(10, 100), rate=RATE,
                                   duration=min(duration, BARE_SECONDS))
            record_load(figures, f"bare app, {RATE:.0f}/s", bare)
            for size, (db_path, runs, jobs) in databases.items():
                name = f"{size:,} events, {RATE:.0f}/s"
                profile = args.profile / f"read-{size}-rep{rep}.txt" if args.profile else None
                with start_service(db_path, profile) as server:
                    result = await measure(server, lambda s=server, r=runs, j=jobs: run_lanes(
                        s.url, read_lanes(r, j), rate=RATE, duration=duration))
                    record_load(figures, name, result, server)
                figures.add(name, "ratio", result.cpu_per_request_us / bare.cpu_per_request_us)

    print()
    print(f"Reads: {RATE:.0f} requests/s offered, {duration:.0f} s per size, "
          f"{reps} repetition(s); median (min-max)")
    print(figures.table([
        ("rate", "req/s", 0), ("errors", "errors", 0), ("p50", "p50 ms", 1),
        ("p99", "p99 ms", 1), ("cpu_us", "CPU µs/req", 0), ("ratio", "x bare", 2),
        ("rss_mb", "peak RSS MB", 0),
    ]))
    print()
    print("Targets:")
    for size in sizes:
        name = f"{size:,} events, {RATE:.0f}/s"
        p99, ratio = figures.get(name, "p99"), figures.get(name, "ratio")
        print(f"  {size:,} events: p99 {p99.show()} ms (target ≤ {TARGET_P99_MS}): "
              f"{verdict(p99.median, TARGET_P99_MS)}; CPU {ratio.show(2)}x bare "
              f"(target ≤ {TARGET_CPU_RATIO}x): {verdict(ratio.median, TARGET_CPU_RATIO)}")


if __name__ == "__main__":
    asyncio.run(main())
