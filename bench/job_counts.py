"""Two ways of counting a run's jobs, on SQLite, measured in two checkouts side by side:
what a job write costs and what the runs page costs, at 10, 100 and 1,000 jobs per run.

Each checkout is measured in its own child process (its own `armada` and `sql/`), in turn,
round after round, so a noisy host moves both alike. Per round and checkout:

- statements: the CPU of the SQL alone (the checkout's named queries on a plain sqlite3
  connection): a job insert, a job status update, each in its own transaction; a page of
  10 runs with their job counts (list_runs) and one run with them (get_run_with_summary);
- store: the same through the store (writer thread, group commit, executor reads): CPU per
  create_job and per update_job_status with 32 writers at once, per list_runs page.

    git worktree add /tmp/kept <commit that keeps the counts in a table>
    python bench/job_counts.py /tmp/kept                # 5 rounds (about 4 min)
    python bench/job_counts.py /tmp/kept --rounds 2 --jobs-per-run 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from common import REPO_ROOT, Figures

START = datetime(2026, 1, 1)
JOBS_PER_RUN = (10, 100, 1000)
JOBS_IN_DATABASE = 100_000  # runs = this / jobs per run
STATUSES = ["Success"] * 7 + ["Failed", "Running", "Pending"]
WRITES = 5_000
WRITERS = 32
READS = 1_000


def text(moment: datetime) -> str:
    """The service's SQLite datetime text form."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


# The child: one checkout's armada and SQL


def fresh_schema(path: Path) -> None:
    """The checkout's own schema, made by its own store."""
    from armada.config import Config, SqliteSettings
    from armada.store import Store

    async def make() -> None:
        store = Store(Config(database=SqliteSettings(path=path)))
        await store.open()
        await store.close()

    asyncio.run(make())


def prefill(path: Path, jobs_per_run: int) -> int:
    """Runs of `jobs_per_run` jobs straight into the file (the schema's triggers, if any,
    fire as for any writer); answers the number of runs."""
    runs = JOBS_IN_DATABASE // jobs_per_run
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        db.executemany("INSERT INTO armada_runs (run_uuid, run_datetime) VALUES (?, ?)",
                       ((f"run-{r:06d}", text(START + timedelta(minutes=r)))
                        for r in range(runs)))
        db.executemany(
            "INSERT INTO armada_jobs (job_uuid, run_uuid, job_datetime, job_associated_agent,"
            " job_status) VALUES (?, ?, ?, ?, ?)",
            ((f"job-{j:08d}", f"run-{j // jobs_per_run:06d}",
              text(START + timedelta(minutes=j // jobs_per_run, milliseconds=j % jobs_per_run)),
              f"agent-{j % 32}", STATUSES[j % len(STATUSES)])
             for j in range(runs * jobs_per_run)))
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return runs


def cpu_us_per_read(db: sqlite3.Connection, sql: str, parameters: dict[str, Any]) -> float:
    started = time.process_time()
    for _ in range(READS):
        db.execute(sql, parameters).fetchall()
    return (time.process_time() - started) / READS * 1e6


def statement_figures(folder: Path, sizes: tuple[int, ...]) -> dict[str, float]:
    """CPU of the SQL alone, in µs per statement."""
    from armada.store.queries import load_queries

    queries = load_queries("sqlite")

    def statement(name: str) -> str:
        (only,) = queries[name].statements
        return only

    figures: dict[str, float] = {}
    path = folder / "statements.db"
    fresh_schema(path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")  # the statement's CPU, not the fsync's
    insert, update = statement("insert_job_if_absent"), statement("update_job_status")
    spent = {"insert": 0.0, "update": 0.0}

    def timed(kind: str, sql: str, parameters: dict[str, Any]) -> None:
        db.execute("BEGIN IMMEDIATE")
        started = time.process_time()
        db.execute(sql, parameters)
        spent[kind] += time.process_time() - started
        db.execute("COMMIT")

    for number in range(WRITES):
        timed("insert", insert, {
            "job_uuid": f"job-{number:08d}", "run_uuid": f"run-{number // 100:06d}",
            "job_datetime": text(START + timedelta(seconds=number)),
            "job_associated_agent": "agent-1", "job_status": "Running"})
    for number in range(WRITES):
        timed("update", update, {"job_uuid": f"job-{number:08d}", "job_status": "Success"})
    db.close()
    figures["statement: job insert"] = spent["insert"] / WRITES * 1e6
    figures["statement: job status update"] = spent["update"] / WRITES * 1e6

    for jobs_per_run in sizes:
        path = folder / f"reads-{jobs_per_run}.db"
        fresh_schema(path)
        runs = prefill(path, jobs_per_run)
        db = sqlite3.connect(path, isolation_level=None)
        page, one = statement("list_runs"), statement("get_run_with_summary")
        figures[f"statement: runs page, {jobs_per_run} jobs/run"] = cpu_us_per_read(
            db, page, {"limit": 10, "offset": 0})
        figures[f"statement: one run, {jobs_per_run} jobs/run"] = cpu_us_per_read(
            db, one, {"run_uuid": f"run-{runs // 2:06d}"})
        db.close()
    return figures


async def store_figures(folder: Path, sizes: tuple[int, ...]) -> dict[str, float]:
    """CPU through the store, in µs per operation."""
    from armada.config import Config, SqliteSettings
    from armada.store import Store

    figures: dict[str, float] = {}
    store = Store(Config(database=SqliteSettings(path=folder / "store.db")))
    await store.open()
    numbers = iter(range(WRITES))

    async def creating() -> None:
        for number in numbers:
            await store.create_job({
                "job_uuid": f"job-{number:08d}", "run_uuid": f"run-{number // 100:06d}",
                "job_datetime": START + timedelta(seconds=number),
                "job_associated_agent": "agent-1", "job_status": "Running"})

    async def updating() -> None:
        for number in numbers:
            await store.update_job_status(f"job-{number:08d}", "Success")

    started = time.process_time()
    await asyncio.gather(*(creating() for _ in range(WRITERS)))
    figures["store: create_job, 32 writers"] = (time.process_time() - started) / WRITES * 1e6
    numbers = iter(range(WRITES))
    started = time.process_time()
    await asyncio.gather(*(updating() for _ in range(WRITERS)))
    figures["store: update_job_status, 32 writers"] = \
        (time.process_time() - started) / WRITES * 1e6
    await store.close()

    for jobs_per_run in sizes:
        store = Store(Config(database=SqliteSettings(path=folder / f"reads-{jobs_per_run}.db")))
        await store.open()
        started = time.process_time()
        for _ in range(READS):
            await store.list_runs(1, 10)
        figures[f"store: runs page, {jobs_per_run} jobs/run"] = \
            (time.process_time() - started) / READS * 1e6
        await store.close()
    return figures


def child(checkout: Path, sizes: tuple[int, ...]) -> None:
    sys.path.insert(0, str(checkout))
    with tempfile.TemporaryDirectory(prefix="armada-bench-") as folder:
        figures = statement_figures(Path(folder), sizes)
        figures.update(asyncio.run(store_figures(Path(folder), sizes)))
    print(json.dumps(figures))


# The parent: rounds, in turn


def measure(checkout: Path, sizes: tuple[int, ...]) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(checkout),
         "--jobs-per-run", *map(str, sizes)],
        cwd=checkout, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{checkout}: {result.stderr}")
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, nargs="?", help="the checkout to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs-per-run", type=int, nargs="+", default=list(JOBS_PER_RUN))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = tuple(args.jobs_per_run)
    if args.child:
        child(args.child, sizes)
        return
    if args.other is None:
        parser.error("give the checkout to compare with")
    checkouts = {"this": REPO_ROOT, "other": args.other.resolve()}
    figures = Figures()
    for round_number in range(args.rounds):
        order = list(checkouts.items())
        if round_number % 2:
            order.reverse()
        for label, checkout in order:
            for name, value in measure(checkout, sizes).items():
                figures.add(name, label, value)
        print(f"round {round_number + 1}/{args.rounds} done", flush=True)
    print(f"\nCPU µs per operation, median of {args.rounds} rounds (min-max); "
          f"this = {REPO_ROOT}, other = {checkouts['other']}")
    print(figures.table([("this", "this", 1), ("other", "other", 1)]))
    for name in figures.rows:
        this, other = figures.get(name, "this").median, figures.get(name, "other").median
        print(f"  {name}: this / other = {this / other:.2f}")


if __name__ == "__main__":
    main()
