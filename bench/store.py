"""The store alone, no HTTP: CPU per event write at several numbers of concurrent writers.

Shows what group commit buys (a commit's fsync is shared by the batch) and what one write
costs the process (event loop and writer thread together), its changes handed to a sink
that counts them. Each figure is the median of `--reps` runs on a fresh SQLite file (WAL,
synchronous=FULL, as the service runs it).

    python bench/store.py                     # 1, 8, 32 and 128 writers, 3 repetitions
    python bench/store.py --writers 32 --writes 50000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import Figures

from armada.changes import Change
from armada.config import Config, SqliteSettings
from armada.store import Store

START = datetime(2026, 1, 1)


class CountingSink:
    def __init__(self) -> None:
        self.changes = 0

    def committed(self, changes: Sequence[Change]) -> None:
        self.changes += len(changes)

    def commit_unknown(self) -> None:
        raise RuntimeError("a COMMIT broke during the benchmark")


async def one_run(writers: int, writes: int) -> tuple[float, float]:
    """(CPU µs per write, writes per second) for `writes` events from `writers` at once."""
    with tempfile.TemporaryDirectory(prefix="armada-bench-") as folder:
        sink = CountingSink()
        store = Store(Config(database=SqliteSettings(path=Path(folder) / "armada.db")), sink=sink)
        await store.open()
        await store.create_job({"job_uuid": "job-1", "run_uuid": "run-1", "job_datetime": START,
                                "job_associated_agent": "agent-1", "job_status": "Running"})
        numbers = iter(range(writes))

        async def writer() -> None:
            for number in numbers:
                await store.create_event({
                    "event_uuid": f"event-{number:09d}", "event_content": "Step 3: page loaded",
                    "job_uuid": "job-1", "event_datetime": START + timedelta(milliseconds=number),
                    "event_status": "Success"})

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(writers)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        await store.close()
        if sink.changes != writes + 2:  # the job's run and the job, then one per event
            raise RuntimeError(f"{sink.changes} changes handed over for {writes} writes")
    return cpu / writes * 1e6, writes / wall


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--writes", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    figures = Figures()
    for writers in args.writers:
        for _ in range(args.reps):
            cpu_us, rate = await one_run(writers, args.writes)
            figures.add(f"{writers} writers", "cpu_us", cpu_us)
            figures.add(f"{writers} writers", "rate", rate)
    print(figures.table([("cpu_us", "CPU µs per write", 1), ("rate", "writes/s", 0)]))


if __name__ == "__main__":
    asyncio.run(main())
