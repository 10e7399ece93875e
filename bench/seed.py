"""This service against the seed design and the bare app, in one run with one client.

The agent workload of bench/ingest.py (32 agents: a job, ten events and a status each),
closed loop, against: the bare aiohttp app (no subscriber: it has no WebSocket), the seed
design (bench/seed_app.py: FastAPI + SQLite, a connection per call, serial broadcast) and
this service, each with 0 and 50 WebSocket subscribers; then this service at 500
requests/s offered with 50 subscribers, for delivery latency and loss. Each repetition
runs every scenario on a fresh database; the table gives medians with min-max.

Then the agents' client (bench/client_agents.py): 8 agent processes reporting through
`armada_client`, whose sender batches events into `POST /api/events/batch`, with 50
subscribers: events only at 5,000 events/s offered (and with no subscriber, for what the
fan-out costs), and the agent workload (a job and its status one request each) at 1,000
events/s. Their server CPU per event is set against the seed design's with 50 subscribers
(closed loop: it serves about 300 requests/s at most): events only against its CPU per
request, one request per event; the agent workload against its CPU over the events of the
same workload.

    python bench/seed.py                   # 3 repetitions of 10 s per scenario (about 8 min)
    python bench/seed.py --quick           # 1 repetition of 3 s
    python bench/seed.py --other /tmp/before   # also another checkout's service, same run
    python bench/seed.py --client-only     # the seed design with 50 subscribers, the client's
    python bench/seed.py --client-only --other /tmp/before  # and the first client scenario
        # (events only, 50 subscribers) through another checkout's service and client,
        # same repetitions
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path

from client_agents import ClientRun, client_scenario, describe
from common import (
    REPO_ROOT,
    Figures,
    LoadResult,
    Server,
    bare_load,
    percentile,
    record_load,
    start_seed,
    start_service,
    verdict,
)
from ingest import AgentWorkload, ingest

SUBSCRIBERS = (0, 50)
OPEN_RATE = 500.0
TARGET_X_SEED = 0.1
TARGET_X_BARE = 2.0
TARGET_DELIVERY_P99_MS = 50.0
CLIENT_RATE = 5000.0
CLIENT_AGENT_RATE = 1000.0
CLIENT_AGENTS = 8
CLIENT_SUBSCRIBERS = 50
TARGET_X_LESS_PER_EVENT = 30.0
SEED_50 = "seed, closed loop, 50 subscribers"


def checkout_starter(checkout: Path) -> Callable[[Path], Server]:
    return lambda db_path: start_service(db_path, checkout=checkout)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition of 3 s")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per scenario (default 10)")
    parser.add_argument("--other", type=Path, help="another checkout's service, measured too")
    parser.add_argument("--client-only", action="store_true",
                        help="only the seed design with 50 subscribers and the client's scenarios")
    parser.add_argument("--client-rate", type=float, default=CLIENT_RATE,
                        help="events/s offered through the client, events only")
    parser.add_argument("--client-agents", type=int, default=CLIENT_AGENTS)
    parser.add_argument("--window", type=float, help="the client's batch_window (s)")
    args = parser.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    duration = args.duration or (3.0 if args.quick else 10.0)
    if args.client_only:
        figures = Figures()
        for rep in range(1, reps + 1):
            print(f"repetition {rep}/{reps}", flush=True)
            result, rss = await ingest(None, CLIENT_SUBSCRIBERS, duration, start=start_seed)
            record_seed(figures, result, rss)
            await client_scenarios(figures, args, duration)
        print_client_figures(figures, args, duration, reps)
        return

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
                figures.add(scenario, "cpu_per_event", result.cpu / result.extra["events"] * 1e6)
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
        await client_scenarios(figures, args, duration)

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
    print_client_figures(figures, args, duration, reps)


def record_seed(figures: Figures, result: LoadResult, rss: float) -> None:
    record_load(figures, SEED_50, result)
    figures.add(SEED_50, "rss_mb", rss)
    figures.add(SEED_50, "cpu_per_event", result.cpu / result.extra["events"] * 1e6)


def client_names(args: argparse.Namespace) -> list[tuple[str, str, float, int, Path]]:
    """(scenario, workload, events/s, subscribers, checkout) of the client's scenarios."""
    rate, agent_rate = args.client_rate, min(args.client_rate, CLIENT_AGENT_RATE)
    names = [
        (f"client, events only, {rate:.0f}/s, 50 subscribers", "events", rate,
         CLIENT_SUBSCRIBERS, REPO_ROOT),
        (f"client, events only, {rate:.0f}/s, 0 subscribers", "events", rate, 0, REPO_ROOT),
        (f"client, agent workload, {agent_rate:.0f}/s, 50 subscribers", "agent", agent_rate,
         CLIENT_SUBSCRIBERS, REPO_ROOT),
    ]
    if args.client_only and args.other:
        name, workload, rate, subscribers, _ = names[0]
        names.append((f"other, {name}", workload, rate, subscribers, args.other.resolve()))
    return names


async def client_scenarios(figures: Figures, args: argparse.Namespace,
                           duration: float) -> None:
    """One repetition of each client scenario, set against this repetition's seed design:
    events only against its CPU per request (one request per event), the agent workload
    against its CPU per event of the same workload."""
    seed_request = figures.get(SEED_50, "cpu_us").values[-1]
    seed_event = figures.get(SEED_50, "cpu_per_event").values[-1]
    for name, workload, rate, subscribers, checkout in client_names(args):
        run: ClientRun = await client_scenario(workload, rate, duration, subscribers,
                                               args.client_agents, args.window, checkout)
        print(f"  {name}: {describe(run)}", flush=True)
        seed = seed_request if workload == "events" else seed_event
        for figure, value in (
                ("rate", run.events / duration), ("cpu_per_event", run.cpu_per_event_us),
                ("x_less", seed / run.cpu_per_event_us),
                ("delivery_p50", percentile(run.delays, 50) * 1000),
                ("delivery_p99", percentile(run.delays, 99) * 1000),
                ("per_batch", run.events_per_batch),
                ("lost", run.lost), ("undelivered", run.undelivered + run.dropped),
                ("late_ms", run.late_ms)):
            figures.add(name, figure, value)


def print_client_figures(figures: Figures, args: argparse.Namespace, duration: float,
                         reps: int) -> None:
    rows = Figures()
    for name in [SEED_50, *(name for name, *_ in client_names(args))]:
        rows.rows[name] = figures.rows.get(name, {})
    print()
    print(f"Per event, {duration:g} s per scenario, {reps} repetition(s), "
          f"{args.client_agents} agent processes; median (min-max)")
    print(rows.table([
        ("rate", "events or req/s", 0), ("cpu_us", "CPU µs/req", 0),
        ("cpu_per_event", "CPU µs/event", 0), ("x_less", "x less than seed", 1),
        ("per_batch", "events/batch", 0),
        ("lost", "msgs lost", 0), ("undelivered", "reports unsent", 0),
        ("delivery_p50", "delivery p50 ms", 1), ("delivery_p99", "delivery p99 ms", 1),
        ("late_ms", "agents late ms", 0),
    ]))
    name, *_ = client_names(args)[0]
    x_less = figures.get(name, "x_less")
    print(f"  Server CPU per event through the client, 50 subscribers: {x_less.show(1)}x less "
          f"than the seed design's (target ≥ {TARGET_X_LESS_PER_EVENT:g}): "
          f"{'meets' if x_less.median >= TARGET_X_LESS_PER_EVENT else 'MISSES'}")
    p99 = figures.get(name, "delivery_p99")
    print(f"  Delivery p99 at {args.client_rate:.0f} events/s: {p99.show()} ms (target ≤ "
          f"{TARGET_DELIVERY_P99_MS:g}): {verdict(p99.median, TARGET_DELIVERY_P99_MS)}")


if __name__ == "__main__":
    asyncio.run(main())
