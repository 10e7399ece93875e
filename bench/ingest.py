"""The agent workload: 32 agents, each job one POST job, ten POST events, one PATCH status;
a new run every 100 jobs. With 0 and 50 WebSocket subscribers, at 200 and 500 requests/s
offered (open loop) and once closed loop for the maximum; the bare aiohttp app at the same
loads with the same client, for the CPU ratio.

    python bench/ingest.py            # full: 30 s per scenario, 3 repetitions (about 12 min)
    python bench/ingest.py --quick    # smoke run: 3 s per scenario, 1 repetition
    python bench/ingest.py --quick --sql-server   # the service on SQL_SERVER_* (not SQLite)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import common
from common import (
    Figures,
    LoadResult,
    Request,
    Server,
    Subscribers,
    bare_load,
    measure,
    percentile,
    record_load,
    run_lanes,
    start_service,
    verdict,
)

AGENTS = 32
EVENTS_PER_JOB = 10
JOBS_PER_RUN = 100
LOADS = (200, 500)
SUBSCRIBERS = (0, 50)
BARE_SECONDS = 10.0

TARGET_CPU_RATIO = 3.0
TARGET_US_PER_DELIVERY = 15.0
TARGET_REQUEST_P99_MS = 25.0
TARGET_DELIVERY_P99_MS = 50.0


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


class AgentWorkload:
    """The requests of `AGENTS` agents, and the broadcast each successful one causes."""

    def __init__(self) -> None:
        self._jobs = itertools.count()
        # Run ids of their own: on SQL Server the database outlives a scenario, and a run
        # already there broadcasts no new_run.
        self._runs = f"run-{uuid.uuid4().hex[:8]}"
        self.sent_at: dict[str, float] = {}
        self.expected_messages = 0
        self.events_stored = 0
        self._runs_with_a_job: set[str] = set()

    def lanes(self) -> list[Callable[[], Request | None]]:
        return [self._agent().__next__ for _ in range(AGENTS)]

    def _agent(self) -> Iterator[Request]:
        while True:
            number = next(self._jobs)
            run_uuid = f"{self._runs}-{number // JOBS_PER_RUN:06d}"
            job_uuid = str(uuid.uuid4())
            yield ("POST", "/api/jobs/", {
                "run_uuid": run_uuid, "job_uuid": job_uuid, "job_datetime": now_text(),
                "job_associated_agent": f"agent-{number % AGENTS}",
            }, None)
            for step in range(EVENTS_PER_JOB):
                yield ("POST", "/api/events/", {
                    "event_uuid": str(uuid.uuid4()), "job_uuid": job_uuid,
                    "event_content": f"Step {step}: page loaded, form submitted",
                    "event_datetime": now_text(),
                }, None)
            yield ("PATCH", "/api/jobs/status", {"job_uuid": job_uuid, "job_status": "Success"},
                   None)

    def on_sent(self, request: Request, at: float) -> None:
        for key in broadcast_keys(request):
            self.sent_at.setdefault(key, at)

    def on_answer(self, request: Request, status: int, data: Any) -> None:
        if not 200 <= status < 300:
            return
        _, path, body, _ = request
        self.expected_messages += 1
        self.events_stored += path == "/api/events/"
        if path == "/api/jobs/" and body["run_uuid"] not in self._runs_with_a_job:
            self._runs_with_a_job.add(body["run_uuid"])
            self.expected_messages += 1  # new_run, broadcast by the run's first job


def broadcast_keys(request: Request) -> list[str]:
    _, path, body, _ = request
    if path == "/api/jobs/":
        return [f"new_run:{body['run_uuid']}", f"new_job:{body['job_uuid']}"]
    if path == "/api/events/":
        return [f"new_event:{body['event_uuid']}"]
    return [f"update_job_status:{body['job_uuid']}"]


async def ingest(rate: float | None, subscribers: int, duration: float,
                 profile: Path | None = None,
                 start: Callable[[Path], Server] | None = None) -> tuple[LoadResult, float]:
    """One repetition of one scenario on a fresh database; answers it and the peak RSS.

    The server is this service (under py-spy with `profile`), or what `start` starts.
    """
    with tempfile.TemporaryDirectory(prefix="armada-bench-") as folder:
        db_path = Path(folder) / "armada.db"
        with start(db_path) if start else start_service(db_path, profile) as server:
            workload = AgentWorkload()
            watchers = Subscribers(server.url, subscribers) if subscribers else None
            try:
                async def load() -> LoadResult:
                    result = await run_lanes(server.url, workload.lanes(), rate=rate,
                                             duration=duration, on_sent=workload.on_sent,
                                             on_answer=workload.on_answer)
                    if watchers is not None:
                        received, arrivals = await asyncio.to_thread(
                            watchers.finish, workload.expected_messages)
                        add_delivery_figures(result, workload, subscribers, received, arrivals)
                    return result

                result = await measure(server, load)
                result.extra["events"] = workload.events_stored
            finally:
                if watchers is not None:
                    watchers.close()
            return result, server.peak_rss_mb()


def add_delivery_figures(result: LoadResult, workload: AgentWorkload, subscribers: int,
                         received: int, arrivals: dict[str, list[float]]) -> None:
    delays = [
        at - workload.sent_at[key]
        for key, times in arrivals.items() if key in workload.sent_at
        for at in times
    ]
    expected = workload.expected_messages * subscribers
    result.extra.update(
        expected=expected, received=received, lost=max(0, expected - received),
        delivery_p50=percentile(delays, 50) * 1000, delivery_p99=percentile(delays, 99) * 1000,
    )


def scenario_name(rate: float | None, subscribers: int) -> str:
    return f"{rate:.0f}/s, {subscribers} subscribers" if rate else \
        f"closed loop, {subscribers} subscribers"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per scenario, 1 repetition")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per scenario (default 30)")
    parser.add_argument("--profile", type=Path,
                        help="run the service under py-spy: collapsed stacks into this folder")
    parser.add_argument("--sql-server", action="store_true",
                        help="the service on the database SQL_SERVER_* name, not SQLite")
    args = parser.parse_args()
    if args.sql_server:
        common.SQL_SERVER_FROM_ENVIRONMENT = True
        print(f"database: {common.sql_server_engine()}", flush=True)
    reps = args.reps or (1 if args.quick else 3)
    duration = args.duration or (3.0 if args.quick else 30.0)
    bare_seconds = min(duration, BARE_SECONDS)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    figures = Figures()
    scenarios: list[tuple[float | None, int]] = [
        *((rate, subscribers) for rate in LOADS for subscribers in SUBSCRIBERS), (None, 0)]
    for rep in range(1, reps + 1):
        print(f"repetition {rep}/{reps}", flush=True)
        for rate in (*LOADS, None):
            bare = await bare_load(AgentWorkload().lanes(), rate=rate, duration=bare_seconds)
            bare_name = f"bare app, {rate:.0f}/s" if rate else "bare app, closed loop"
            record_load(figures, bare_name, bare)
            for scenario_rate, subscribers in scenarios:
                if scenario_rate != rate:
                    continue
                name = scenario_name(rate, subscribers)
                profile = args.profile / f"ingest-{rate or 'max'}-{subscribers}-{rep}.txt" \
                    if args.profile else None
                result, rss = await ingest(rate, subscribers, duration, profile)
                record_load(figures, name, result)
                figures.add(name, "rss_mb", rss)
                figures.add(name, "ratio", result.cpu_per_request_us / bare.cpu_per_request_us)
        for rate in LOADS:
            quiet = figures.get(scenario_name(rate, 0), "cpu_us").values[-1]
            busy_name = scenario_name(rate, 50)
            busy = figures.get(busy_name, "cpu_us").values[-1]
            sent = figures.get(busy_name, "rate").values[-1]
            received = figures.get(busy_name, "received").values[-1]
            requests = sent * duration
            figures.add(busy_name, "us_per_delivery", (busy - quiet) * requests / received
                        if received else float("nan"))

    print()
    print(f"Ingest: {AGENTS} agents, {duration:.0f} s per scenario, {reps} repetition(s); "
          "median (min-max)")
    print(figures.table([
        ("rate", "req/s", 0), ("errors", "errors", 0), ("p50", "p50 ms", 1),
        ("p99", "p99 ms", 1), ("cpu_us", "CPU µs/req", 0), ("ratio", "x bare", 2),
        ("rss_mb", "peak RSS MB", 0), ("expected", "msgs expected", 0),
        ("received", "msgs received", 0), ("delivery_p50", "delivery p50 ms", 1),
        ("delivery_p99", "delivery p99 ms", 1), ("us_per_delivery", "µs/msg/subscriber", 1),
    ]))
    print()
    print("Targets:")
    for rate in LOADS:
        ratio = figures.get(scenario_name(rate, 0), "ratio")
        print(f"  CPU per request at {rate}/s, 0 subscribers: {ratio.show(2)}x bare "
              f"(target ≤ {TARGET_CPU_RATIO}x): {verdict(ratio.median, TARGET_CPU_RATIO)}")
        per_message = figures.get(scenario_name(rate, 50), "us_per_delivery")
        print(f"  server CPU per message per subscriber at {rate}/s: {per_message.show()} µs "
              f"(target ≤ {TARGET_US_PER_DELIVERY}): "
              f"{verdict(per_message.median, TARGET_US_PER_DELIVERY)}")
    ratio = figures.get(scenario_name(None, 0), "ratio")
    print(f"  CPU per request closed loop, 0 subscribers: {ratio.show(2)}x bare "
          f"(target ≤ {TARGET_CPU_RATIO}x): {verdict(ratio.median, TARGET_CPU_RATIO)}")
    busy = scenario_name(500, 50)
    for name, title, limit in (("errors", "errors", 0), ("lost", "messages lost", 0),
                               ("p99", "request p99 ms", TARGET_REQUEST_P99_MS),
                               ("delivery_p99", "delivery p99 ms", TARGET_DELIVERY_P99_MS)):
        figure = figures.get(busy, name)
        print(f"  500/s with 50 subscribers, {title}: {figure.show()} (target ≤ {limit}): "
              f"{verdict(figure.median, limit)}")


if __name__ == "__main__":
    asyncio.run(main())
