"""The whole event list, streamed: `GET /api/events/` over 1,000,000 events, then the list
of one job of 100,000 events, while small requests keep coming at a steady rate. Prints
the server's peak memory before and during, and the longest delay of the small requests:
`GET /healthz` every 5 ms (no I/O, so its delay is how long the event loop was held) and
the events of a small job every 20 ms (the store's read path), each counted from its
scheduled time (open loop). Those include the client's and the host's delays, so the
service also runs with a watch on its event loop (a callback due every millisecond, and how
late it ran: how long the loop was held), measured in the service's own process.

The service creates its schema first; the rows then go straight into the SQLite file
(bench/read.py's prefill, plus one job of a tenth of the events). The big lists are read
by a separate client process, so that its parsing does not delay the small requests.

    python bench/events_list.py            # 1,000,000 events, 3 repetitions (about 3 min)
    python bench/events_list.py --quick    # 100,000 events, 1 repetition
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import runpy
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from common import REPO_ROOT, Figures, Server, free_port, percentile, start_service
from read import EVENTS_PER_JOB, START, prefill, text

EVENTS = 1_000_000
QUICK_EVENTS = 100_000
# One job holds this share of the events: a job's whole list, streamed too.
BIG_JOB_SHARE = 10
BIG_JOB = "job-big"
SMALL_JOB = "job-00000000"
HEALTH_INTERVAL = 0.005
SMALL_READ_INTERVAL = 0.02
BASELINE_SECONDS = 3.0
FETCH_TIMEOUT = 600.0
# How each event of the streamed list begins: counted to check that every event arrived.
EVENT_START = b'{"event_uuid":'

# The watch on the service's event loop: a callback due every LAG_TICK seconds; the latest
# it ran in each LAG_WINDOW seconds is written to the file named by LAG_FILE_VARIABLE.
LAG_TICK = 0.001
LAG_WINDOW = 0.1
LAG_FILE_VARIABLE = "BENCH_LOOP_LAG_FILE"

TARGET_STALL_MS = 10.0


def prefill_big_job(db_path: Path, events: int) -> None:
    """One more run with one job of `events` events, 10 ms apart."""
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        db.execute("INSERT INTO armada_runs (run_uuid, run_datetime) VALUES (?, ?)",
                   ("run-big", text(START)))
        db.execute("INSERT INTO armada_jobs (job_uuid, run_uuid, job_datetime,"
                   " job_associated_agent, job_status) VALUES (?, ?, ?, ?, ?)",
                   (BIG_JOB, "run-big", text(START), "agent-big", "Running"))
        db.executemany(
            "INSERT INTO armada_events (event_uuid, event_content, job_uuid, event_datetime,"
            " event_status) VALUES (?, ?, ?, ?, ?)",
            ((f"big-{e:08d}", f"Step {e}: page loaded, form submitted", BIG_JOB,
              text(START + timedelta(milliseconds=10 * e)), "Running") for e in range(events)))
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def start_watched_service(db_path: Path, lag_file: Path) -> Server:
    """As common.start_service, with the watch on its event loop (`--serve-watched`)."""
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ARMADA_", "SQL_SERVER_"))}
    env.update(ARMADA_DB_PATH=str(db_path), ARMADA_PORT=str(port), ARMADA_HOST="127.0.0.1",
               ARMADA_LOG_LEVEL="WARNING", PYTHONPATH=str(REPO_ROOT),
               **{LAG_FILE_VARIABLE: str(lag_file)})
    return Server([sys.executable, __file__, "--serve-watched"], env, port,
                  ready_path="/api/runs/")


def serve_watched() -> None:
    """`armada serve`, every event loop it creates watched (in the service's process)."""
    lag_file = Path(os.environ[LAG_FILE_VARIABLE])

    class WatchedLoops(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            loop = super().new_event_loop()
            watch(loop, lag_file)
            return loop

    asyncio.set_event_loop_policy(WatchedLoops())
    sys.argv = ["armada", "serve"]
    runpy.run_module("armada", run_name="__main__", alter_sys=True)


def watch(loop: asyncio.AbstractEventLoop, lag_file: Path) -> None:
    """Every LAG_WINDOW: `<start of the window> <latest lateness in it>`, in seconds on
    the monotonic clock (the loop's and every process's)."""
    out = lag_file.open("a", buffering=1)
    window_start, worst, due = loop.time(), 0.0, loop.time() + LAG_TICK

    def tick() -> None:
        nonlocal window_start, worst, due
        now = loop.time()
        worst = max(worst, now - due)
        if now - window_start >= LAG_WINDOW:
            out.write(f"{window_start} {worst}\n")
            window_start, worst = now, 0.0
        due = now + LAG_TICK
        loop.call_at(due, tick)

    loop.call_at(due, tick)


def longest_stall(lag_file: Path, start: float, end: float) -> float:
    """The latest the watch callback ran in the windows between `start` and `end`."""
    worst = 0.0
    for line in lag_file.read_text().splitlines():
        window_start, lateness = map(float, line.split())
        if start <= window_start and window_start + LAG_WINDOW <= end:
            worst = max(worst, lateness)
    return worst


def memory_mb(server: Server, field: str) -> float:
    """A line of /proc/<pid>/status in MB: VmRSS (now) or VmHWM (peak since start)."""
    with open(f"/proc/{server.pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def probe(http: aiohttp.ClientSession, path: str, params: dict[str, str] | None,
                interval: float, stop: asyncio.Event) -> tuple[list[float], int]:
    """`path` every `interval` seconds until `stop`, each request on its own (a slow answer
    delays no other); the latencies from each scheduled time, and the failures."""
    latencies: list[float] = []
    failures = 0

    async def one(scheduled: float) -> None:
        nonlocal failures
        try:
            async with http.get(path, params=params) as response:
                await response.read()
                if response.status != 200:
                    failures += 1
        except (aiohttp.ClientError, TimeoutError):
            failures += 1
        latencies.append(time.monotonic() - scheduled)

    tasks = set()
    start = time.monotonic()
    slot = 0
    while not stop.is_set():
        scheduled = start + slot * interval
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        slot += 1
    await asyncio.gather(*tasks)
    return latencies, failures


async def fetch(url: str, params: dict[str, str]) -> dict[str, Any]:
    """The list read by a child process (`--fetch`): its figures."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--fetch", url, json.dumps(params),
        stdout=asyncio.subprocess.PIPE)
    stdout, _ = await process.communicate()
    return json.loads(stdout)


async def fetch_main(url: str, params: dict[str, str]) -> None:
    """Read the list as it comes, keeping none of it: bytes, events, seconds, and whether
    it is one whole JSON list."""
    counted, total, tail, first, last = 0, 0, b"", b"", b""
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=timeout) as http, \
            http.get(url + "/api/events/", params=params) as response:
        status = response.status
        chunked = response.headers.get("Transfer-Encoding") == "chunked"
        async for data in response.content.iter_chunked(1 << 16):
            first = first or data[:1]
            # A pattern cut between two reads is found in the joined edges.
            window = tail + data
            counted += window.count(EVENT_START)
            tail = data[-(len(EVENT_START) - 1):]
            total += len(data)
            last = data[-1:]
    print(json.dumps({"status": status, "chunked": chunked, "bytes": total, "events": counted,
                      "seconds": time.monotonic() - started,
                      "whole": first == b"[" and last == b"]"}))


async def repetition(server: Server, lag_file: Path, events: int, big_job_events: int,
                     figures: Figures, scenario: str) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(server.url, connector=connector) as http:
        async def probes(stop: asyncio.Event) -> list[tuple[list[float], int]]:
            return await asyncio.gather(
                probe(http, "/healthz", None, HEALTH_INTERVAL, stop),
                probe(http, "/api/events/", {"job_uuid": SMALL_JOB}, SMALL_READ_INTERVAL,
                      stop))

        stop = asyncio.Event()
        before_start = time.monotonic()
        baseline = asyncio.create_task(probes(stop))
        await asyncio.sleep(BASELINE_SECONDS)
        stop.set()
        (health_before, _), (reads_before, _) = await baseline
        before_end = time.monotonic()
        rss_before, peak_before = memory_mb(server, "VmRSS"), memory_mb(server, "VmHWM")

        stop = asyncio.Event()
        during_start = time.monotonic()
        during = asyncio.create_task(probes(stop))
        whole = await fetch(server.url, {})
        of_job = await fetch(server.url, {"job_uuid": BIG_JOB})
        stop.set()
        (health, health_failures), (reads, read_failures) = await during
        during_end = time.monotonic()
        peak_during = memory_mb(server, "VmHWM")
    await asyncio.sleep(2 * LAG_WINDOW)  # the last window written
    stall_before = longest_stall(lag_file, before_start, before_end) * 1000
    stall_during = longest_stall(lag_file, during_start, during_end) * 1000

    for name, result, expected in (("whole list", whole, events),
                                   ("job list", of_job, big_job_events)):
        complete = result["status"] == 200 and result["whole"] and result["events"] == expected
        print(f"  {name}: {result['events']:,} of {expected:,} events, "
              f"{result['bytes'] / 1e6:.0f} MB in {result['seconds']:.1f} s "
              f"({result['events'] / result['seconds']:,.0f} events/s), "
              f"{'chunked' if result['chunked'] else 'one body'}, "
              f"{'complete' if complete else 'INCOMPLETE'}", flush=True)
        figures.add(scenario, f"{name} s", result["seconds"])
        figures.add(scenario, f"{name} complete", float(complete))
    print(f"  longest event-loop stall (watched in the service): {stall_before:.1f} ms before, "
          f"{stall_during:.1f} ms during", flush=True)
    figures.add(scenario, "stall before", stall_before)
    figures.add(scenario, "stall", stall_during)
    print(f"  server RSS before {rss_before:.0f} MB (peak {peak_before:.0f} MB), "
          f"peak during {peak_during:.0f} MB; /healthz max {max(health_before) * 1000:.1f} ms "
          f"before, {max(health) * 1000:.1f} ms during (p99 "
          f"{percentile(health, 99) * 1000:.1f} ms, {len(health)} requests, "
          f"{health_failures} failed); small job reads max {max(reads) * 1000:.1f} ms "
          f"({read_failures} failed)", flush=True)
    figures.add(scenario, "peak before", peak_before)
    figures.add(scenario, "peak during", peak_during)
    figures.add(scenario, "health max before", max(health_before) * 1000)
    figures.add(scenario, "health max", max(health) * 1000)
    figures.add(scenario, "health p99", percentile(health, 99) * 1000)
    figures.add(scenario, "reads max before", max(reads_before) * 1000)
    figures.add(scenario, "reads max", max(reads) * 1000)
    figures.add(scenario, "failures", health_failures + read_failures)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 events, 1 repetition")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, quick 1)")
    parser.add_argument("--events", type=int, help="events in all (default 1,000,000)")
    parser.add_argument("--fetch", nargs=2, metavar=("URL", "PARAMS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fetch:
        await fetch_main(args.fetch[0], json.loads(args.fetch[1]))
        return
    reps = args.reps or (1 if args.quick else 3)
    events = args.events or (QUICK_EVENTS if args.quick else EVENTS)
    big_job_events = events // BIG_JOB_SHARE
    spread = events - big_job_events
    spread -= spread % EVENTS_PER_JOB

    figures = Figures()
    scenario = f"{spread + big_job_events:,} events"
    with tempfile.TemporaryDirectory(prefix="armada-bench-") as folder:
        db_path = Path(folder) / "events.db"
        with start_service(db_path):
            pass  # the service creates its tables and indexes
        started = time.monotonic()
        prefill(db_path, spread)
        prefill_big_job(db_path, big_job_events)
        print(f"pre-filled {spread + big_job_events:,} events ({big_job_events:,} in one job) "
              f"in {time.monotonic() - started:.1f} s", flush=True)
        for rep in range(1, reps + 1):
            print(f"repetition {rep}/{reps}", flush=True)
            lag_file = Path(folder) / f"loop-lag-{rep}.txt"
            with start_watched_service(db_path, lag_file) as server:
                await repetition(server, lag_file, spread + big_job_events, big_job_events,
                                 figures, scenario)

    print()
    print(f"Whole lists while /healthz runs every {HEALTH_INTERVAL * 1000:.0f} ms and a small "
          f"job's events every {SMALL_READ_INTERVAL * 1000:.0f} ms; {reps} repetition(s), "
          "median (min-max)")
    print(figures.table([
        ("whole list s", "whole list s", 1), ("job list s", "job list s", 2),
        ("peak before", "peak RSS before MB", 0), ("peak during", "peak RSS during MB", 0),
        ("stall before", "loop stall before ms", 1), ("stall", "loop stall during ms", 1),
        ("health max before", "/healthz max before ms", 1),
        ("health max", "/healthz max during ms", 1), ("health p99", "/healthz p99 during ms", 1),
        ("reads max before", "small read max before ms", 1),
        ("reads max", "small read max during ms", 1), ("failures", "failures", 0),
    ]))
    stall = figures.get(scenario, "stall")
    print(f"\nLongest event-loop stall while streaming: {stall.show()} ms "
          f"(target ≤ {TARGET_STALL_MS:.0f}): "
          f"{'meets' if stall.median <= TARGET_STALL_MS else 'MISSES'}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve-watched"]:
        serve_watched()  # the service runs its own event loop
    else:
        asyncio.run(main())
