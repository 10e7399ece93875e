"""Normal requests while slow clients trickle request heads: latency of GETs, and what
happened to the slow connections.

Each slow client (in a process of its own) opens a connection and sends a request head one
byte a second, as a slowloris attack does; when the server closes it, it opens another
at once. Meanwhile the load client sends `GET /api/runs/` at a fixed rate (open loop,
latency from each request's scheduled time). Scenarios: no slow client, then `--slow` of
them; for this checkout and, with `--other`, another (the service before the change).

    python bench/slow_clients.py                              # 200 slow clients, 30 s
    python bench/slow_clients.py --other /tmp/before          # and the other checkout
    python bench/slow_clients.py --slow 300 --cap 250         # past the connection limit
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import REPO_ROOT, Server, free_port, measure, percentile, run_lanes

RATE = 200.0
LANES = 16
HEAD = b"GET /api/runs/ HTTP/1.1\r\nHost: armada\r\nX-Slow: " + b"s" * 4000 + b"\r\n\r\n"


def start(db_path: Path, checkout: Path, variables: dict[str, str]) -> Server:
    """`python -m armada serve` of `checkout` with `variables`, logging warnings only."""
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ARMADA_", "SQL_SERVER_"))}
    env.update(ARMADA_DB_PATH=str(db_path), ARMADA_PORT=str(port), ARMADA_HOST="127.0.0.1",
               ARMADA_LOG_LEVEL="WARNING", **variables,
               PYTHONPATH=os.pathsep.join(filter(None, [str(checkout), env.get("PYTHONPATH")])))
    return Server([sys.executable, "-m", "armada", "serve"], env, port,
                  ready_path="/api/runs/", cwd=checkout)


@dataclass
class SlowFigures:
    opened: int = 0
    cut: int = 0  # closed by the server before the head was complete
    refused: int = 0  # answered (503) at once
    lifetimes: list[float] = field(default_factory=list)  # of the cut ones
    open_at_end: int = 0
    oldest_at_end: float = 0.0


async def slow_client(port: int, until: float, figures: SlowFigures) -> None:
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        figures.opened += 1
        opened = time.monotonic()
        outcome = "open"
        try:
            for byte in HEAD:
                writer.write(bytes([byte]))
                await writer.drain()
                remaining = until - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(min(1.0, remaining)):
                        answer = await reader.read(65536)
                    outcome = "refused" if answer else "cut"
                    break
                except TimeoutError:
                    pass
        except ConnectionError:
            outcome = "cut"
        writer.close()
        if outcome == "cut":
            figures.cut += 1
            figures.lifetimes.append(time.monotonic() - opened)
        elif outcome == "refused":
            figures.refused += 1
            await asyncio.sleep(0.1)
        else:
            figures.open_at_end += 1
            figures.oldest_at_end = max(figures.oldest_at_end, time.monotonic() - opened)


def slow_clients_main(port: int, count: int, seconds: float, results: Any) -> None:
    async def run() -> SlowFigures:
        figures = SlowFigures()
        until = time.monotonic() + seconds
        await asyncio.gather(*(slow_client(port, until, figures) for _ in range(count)))
        return figures

    results.put(dataclasses.asdict(asyncio.run(run())))  # plain data: the parent reads it


async def scenario(server: Server, slow: int, seconds: float) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results: Any = context.Queue()
    process = None
    if slow:
        process = context.Process(target=slow_clients_main,
                                  args=(server.port, slow, seconds + 2.0, results))
        process.start()
        await asyncio.sleep(2.0)  # every slow connection open before the measure starts
    lanes = [lambda: ("GET", "/api/runs/", None, None)] * LANES
    load = await measure(server, lambda: run_lanes(server.url, lanes, rate=RATE,
                                                   duration=seconds))
    figures = SlowFigures()
    if process is not None:
        figures = SlowFigures(**await asyncio.to_thread(results.get))
        process.join()
    return {"load": load, "slow": figures}


def report(name: str, slow: int, outcome: dict[str, Any]) -> str:
    load, figures = outcome["load"], outcome["slow"]
    ms = [latency * 1000 for latency in load.latencies]
    line = (f"{name:<34} {slow:>4} slow | GET p50 {percentile(ms, 50):6.2f} ms  p99 "
            f"{percentile(ms, 99):6.2f} ms  max {max(ms):7.2f} ms  errors {load.errors:>4}"
            f"/{load.sent}  CPU/req {load.cpu_per_request_us:5.0f} µs")
    if slow:
        longest = max(figures.lifetimes, default=float("nan"))
        line += (f"\n{'':<34}           slow connections: {figures.opened} opened, "
                 f"{figures.cut} cut (after {percentile(figures.lifetimes, 50):.1f} s, longest "
                 f"{longest:.1f} s), {figures.refused} refused, {figures.open_at_end} still "
                 f"open at the end (oldest {figures.oldest_at_end:.0f} s)")
    return line


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=200, help="slow clients")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each scenario")
    parser.add_argument("--other", type=Path, help="another checkout (the service before)")
    parser.add_argument("--cap", type=int, help="ARMADA_MAX_CONNECTIONS for this checkout")
    parser.add_argument("--header-timeout", type=float,
                        help="ARMADA_HEADER_TIMEOUT for this checkout")
    args = parser.parse_args()
    variables = {}
    if args.cap is not None:
        variables["ARMADA_MAX_CONNECTIONS"] = str(args.cap)
    if args.header_timeout is not None:
        variables["ARMADA_HEADER_TIMEOUT"] = str(args.header_timeout)
    checkouts = [(f"this checkout {' '.join(f'{k}={v}' for k, v in variables.items())}",
                  REPO_ROOT, variables)]
    if args.other is not None:
        checkouts.append((f"other ({args.other.name})", args.other.resolve(), {}))
    print(f"GET /api/runs/ at {RATE:.0f}/s for {args.seconds:g} s, with 0 and {args.slow} "
          "clients sending a request head one byte a second", flush=True)
    with tempfile.TemporaryDirectory(prefix="armada-bench-") as folder:
        for index, (name, checkout, env) in enumerate(checkouts):
            with start(Path(folder) / f"{index}.db", checkout, env) as server:
                for slow in (0, args.slow):
                    print(report(name, slow, await scenario(server, slow, args.seconds)),
                          flush=True)


if __name__ == "__main__":
    asyncio.run(main())
