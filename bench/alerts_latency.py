"""Agents' request latency with alerts to a receiver that never answers, against none.

The agents' load: each lane creates a job, reports three events, and sets the job Failed,
at a fixed rate (open loop, latency from each request's scheduled time). Every failure
fires a rule without a rate limit, so every PATCH writes a delivery in its transaction. The
receiver is a socket that listens and never accepts: each attempt waits its whole timeout
and the outbox only grows. Scenarios alternate, `--repeat` times each, on a fresh database:
"no alerts" (no ARMADA_ALERTS_FILE), then "receiver never answers". The verdict is the ratio
of the medians (with / without) of p50 and p99.

    python bench/alerts_latency.py                     # 100 requests/s, 15 s, 3 times each
    python bench/alerts_latency.py --rate 300 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

import aiohttp
from common import (
    Figures,
    Request,
    measure,
    record_load,
    run_lanes,
    start_service,
)

# The receiver's timeout as deployed by default (const.ALERT_ATTEMPT_TIMEOUT_SECONDS).
ATTEMPT_TIMEOUT = "10s"
LANES = 16
# Within this ratio of the medians, the latency is unchanged (the noise of a shared host).
UNCHANGED = 1.10


def alerts_file(folder: Path, port: int) -> Path:
    path = folder / "alerts.toml"
    path.write_text(f"""
[targets.silent]
kind = "webhook"
url = "http://127.0.0.1:{port}/hook"
timeout = "{ATTEMPT_TIMEOUT}"

[[rules]]
name = "every-failure"
when = "job_failed"
targets = ["silent"]
rate_limit = "none"
""", encoding="utf-8")
    return path


def agent_lane(lane: int, scenario: str) -> Callable[[], Request | None]:
    """A job, three events, the job Failed; again, with new ids."""
    steps = itertools.count()

    def next_request() -> Request | None:
        step = next(steps)
        job = f"{scenario}-lane{lane}-job{step // 5}"
        kind = step % 5
        if kind == 0:
            return ("POST", "/api/jobs/", {"job_uuid": job, "run_uuid": f"{scenario}-run{lane}",
                                           "job_datetime": "2026-02-24T10:31:00.000"}, None)
        if kind < 4:
            return ("POST", "/api/events/", {
                "event_uuid": f"{job}-event{kind}", "job_uuid": job,
                "event_content": "Error: timeout" if kind == 3 else "Page loaded",
                "event_datetime": "2026-02-24T10:32:00.000"}, None)
        return ("PATCH", "/api/jobs/status", {"job_uuid": job, "job_status": "Failed"}, None)

    return next_request


async def pending_deliveries(url: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as answer:
        for line in (await answer.text()).splitlines():
            if line.startswith("armada_alerts_pending "):
                return float(line.split()[1])
    return 0.0


async def scenario(name: str, rate: float, duration: float, alerts: Path | None,
                   figures: Figures, repetition: int) -> None:
    variables = {"ARMADA_ALERTS_FILE": str(alerts)} if alerts is not None else None
    with tempfile.TemporaryDirectory() as folder, \
            start_service(Path(folder) / "armada.db", variables=variables) as server:
        lanes = [agent_lane(lane, f"r{repetition}") for lane in range(LANES)]
        result = await measure(server, lambda: run_lanes(server.url, lanes, rate=rate,
                                                          duration=duration))
        if alerts is not None:
            result.extra["pending"] = await pending_deliveries(server.url)
        record_load(figures, name, result)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each scenario")
    options = parser.parse_args()

    figures = Figures()
    with socket.socket() as silent, tempfile.TemporaryDirectory() as folder:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4096)  # and never accepts: every attempt waits out its timeout
        alerts = alerts_file(Path(folder), silent.getsockname()[1])
        for repetition in range(options.repeat):
            print(f"repetition {repetition + 1} of {options.repeat}", flush=True)
            await scenario("no alerts", options.rate, options.duration, None, figures,
                           repetition)
            await scenario("receiver never answers", options.rate, options.duration, alerts,
                           figures, repetition)

    print()
    print(figures.table([("rate", "requests/s", 0), ("errors", "errors", 0),
                         ("p50", "p50 ms", 2), ("p99", "p99 ms", 2),
                         ("cpu_us", "server CPU µs/request", 0),
                         ("pending", "deliveries waiting at the end", 0)]))
    for figure, title in (("p50", "p50"), ("p99", "p99")):
        ratio = figures.get("receiver never answers", figure).median / \
            figures.get("no alerts", figure).median
        verdict = "unchanged" if ratio <= UNCHANGED else "SLOWER"
        print(f"{title} with / without alerts: {ratio:.2f} ({verdict}, limit {UNCHANGED})")


if __name__ == "__main__":
    asyncio.run(main())
