"""This service against the seed design and the bare app, in one run with one client.

The agent workload of bench/ingest.py (32 agents: a job, ten events and a status each),
closed loop, against: the bare aiohttp app (no subscriber: it has no WebSocket), the seed
design (bench/seed_app.py: FastAPI + SQLite, a connection per call, serial broadcast) and
this service, each with 0 and 50 WebSocket subscribers; then this service at 500
requests/s offered with 50 subscribers, for delivery latency and loss. Each repetition
runs every scenario on a fresh database; the table gives medians with min-max.

    python bench/seed.py                   # 3 repetitions of 10 s per scenario (about 5 min)
    python bench/seed.py --quick           # 1 repetition of 3 s
    python bench/seed.py --other /tmp/before   # also another checkout's service, same run
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path

from common import Figures, Server, bare_load, record_load, start_seed, start_service, verdict
from ingest import AgentWorkload, ingest

SUBSCRIBERS = (0, 50)
OPEN_RATE = 500.0
TARGET_X_SEED = 0.1
TARGET_X_BARE = 2.0
TARGET_DELIVERY_P99_MS = 50.0


def checkout_starter(checkout: Path) -> Callable[[Path], Server]:
    return lambda db_path: start_service(db_path, checkout=checkout)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition of 3 s")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per scenario (default 10)")
    parser.add_argument("--other", type=Path, help="another checkout's service, measured too")
    args = parser.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    duration = args.duration or (3.0 if args.quick else 10.0)

    services: dict[str, Callable[[Path], Server] | None] = {"service": None, "seed": start_seed}
    if args.other:
        services["other"] = checkout_starter(args.other.resolve())
    figures = Figures()
    for rep in range(1, reps + 1):
        print(f"repetition {rep}/{reps}", flush=True)
        bare = await bare_load(AgentWorkload().lanes(), rate=None, duration=duration)
        record_load(figures, "bare app, closed loop", bare)
        cpu: dict[tuple[str, int], float] = {}
        # The order of the servers turns each repetition, so no one always runs first.
        names = list(services)
        names = names[rep % len(names):] + names[:rep % len(names)]
        for name in names:
            for subscribers in SUBSCRIBERS:
                scenario = f"{name}, closed loop, {subscribers} subscribers"
                result, rss = await ingest(None, subscribers, duration, start=services[name])
                record_load(figures, scenario, result)
                figures.add(scenario, "rss_mb", rss)
                cpu[name, subscribers] = result.cpu_per_request_us
                figures.add(scenario, "x_bare", result.cpu_per_request_us
                            / bare.cpu_per_request_us)
        for name in services:
            for subscribers in SUBSCRIBERS:
                figures.add(f"{name}, closed loop, {subscribers} subscribers", "x_seed",
                            cpu[name, subscribers] / cpu["seed", subscribers])
        for name in services:
            if name == "seed":
                continue
            scenario = f"{name}, {OPEN_RATE:.0f}/s, 50 subscribers"
            result, rss = await ingest(OPEN_RATE, 50, duration, start=services[name])
            record_load(figures, scenario, result)
            figures.add(scenario, "rss_mb", rss)

    print()
    print(f"Agent workload, {duration:g} s per scenario, {reps} repetition(s); median (min-max)")
    print(figures.table([
        ("rate", "req/s", 0), ("errors", "errors", 0), ("p99", "p99 ms", 1),
        ("cpu_us", "CPU µs/req", 0), ("x_bare", "x bare", 2), ("x_seed", "x seed", 3),
        ("rss_mb", "peak RSS MB", 0), ("lost", "msgs lost", 0),
        ("delivery_p50", "delivery p50 ms", 1), ("delivery_p99", "delivery p99 ms", 1),
    ]))
    print()
    print("Targets:")
    x_seed = figures.get("service, closed loop, 50 subscribers", "x_seed")
    print(f"  CPU per request with 50 subscribers: {x_seed.show(3)} of the seed design's "
          f"(target ≤ {TARGET_X_SEED}): {verdict(x_seed.median, TARGET_X_SEED)}")
    x_bare = figures.get("service, closed loop, 0 subscribers", "x_bare")
    print(f"  CPU per request with no subscriber: {x_bare.show(2)}x the bare app's "
          f"(target ≤ {TARGET_X_BARE}): {verdict(x_bare.median, TARGET_X_BARE)}")
    busy = f"service, {OPEN_RATE:.0f}/s, 50 subscribers"
    for name, title, limit in (("errors", "errors", 0), ("lost", "messages lost", 0),
                               ("delivery_p99", "delivery p99 ms", TARGET_DELIVERY_P99_MS)):
        figure = figures.get(busy, name)
        print(f"  {OPEN_RATE:.0f}/s with 50 subscribers, {title}: {figure.show()} "
              f"(target ≤ {limit:g}): {verdict(figure.median, limit)}")


if __name__ == "__main__":
    asyncio.run(main())
