"""Two checkouts of the service side by side: closed-loop ingest CPU per request, interleaved.

On a noisy host, runs minutes apart differ by more than most changes are worth. This runs
short closed-loop slices of the agent workload (bench/ingest.py's) against the bare app,
this checkout and another one, in turn, round after round (the two services in
alternating order), and prints each one's CPU per request, each service's as a multiple
of the bare app's in the same round, and this checkout's as a multiple of the other's.

    git worktree add /tmp/before HEAD~3          # the checkout to compare with
    python bench/compare.py /tmp/before          # 12 rounds of 5 s slices (about 4 min)
    python bench/compare.py /tmp/before --rounds 20 --seconds 3

Each service keeps its database for the whole run, so later rounds write into a bigger
one: compare the two services within a round, not rounds with each other.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from common import (
    REPO_ROOT,
    Figures,
    LoadResult,
    Server,
    measure,
    run_lanes,
    start_bare,
    start_service,
)
from ingest import AgentWorkload


async def closed_loop(server: Server, seconds: float, *, service: bool) -> LoadResult:
    workload = AgentWorkload()
    return await measure(server, lambda: run_lanes(
        server.url, workload.lanes(), rate=None, duration=seconds,
        on_sent=workload.on_sent if service else None,
        on_answer=workload.on_answer if service else None))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each slice")
    args = parser.parse_args()
    this, other = f"this checkout ({REPO_ROOT})", f"other ({args.other.resolve()})"
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="armada-bench-") as folder:
        with start_bare() as bare, \
                start_service(Path(folder) / "this.db") as ours, \
                start_service(Path(folder) / "other.db", checkout=args.other.resolve()) as theirs:
            for round_ in range(args.rounds):
                cpu = {"bare": (await closed_loop(bare, args.seconds, service=False))
                       .cpu_per_request_us}
                order = [(this, ours), (other, theirs)]
                for name, server in order if round_ % 2 == 0 else reversed(order):
                    result = await closed_loop(server, args.seconds, service=True)
                    if result.errors:
                        raise SystemExit(f"{name}: {result.errors} errors, e.g. "
                                         f"{result.error_samples[0]}")
                    cpu[name] = result.cpu_per_request_us
                for name in ("bare", this, other):
                    figures.add(name, "cpu_us", cpu[name])
                for name in (this, other):
                    figures.add(name, "x_bare", cpu[name] / cpu["bare"])
                figures.add(this, "x_other", cpu[this] / cpu[other])
                print(f"  round {round_ + 1}/{args.rounds}: CPU µs per request: bare "
                      f"{cpu['bare']:.0f}, this {cpu[this]:.0f}, other {cpu[other]:.0f}; "
                      f"this / other {cpu[this] / cpu[other]:.3f}", flush=True)
    print(f"\nClosed-loop ingest, {args.rounds} interleaved rounds of {args.seconds:g} s; "
          "median (min-max)")
    print(figures.table([("cpu_us", "CPU µs/req", 0), ("x_bare", "x bare", 2),
                         ("x_other", "x other", 3)]))


if __name__ == "__main__":
    asyncio.run(main())
