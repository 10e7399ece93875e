"""Fan-out: 1,000 WebSocket subscribers on one service process, 50 mutations/s for 20 s.

    python bench/fanout.py [--subscribers 1000] [--rate 50] [--seconds 20] [--reps 3]
    python bench/fanout.py --burst     # issue 6: 1,000 mutations, sequential POSTs, no pause
    python bench/fanout.py --profile DIR   # service under py-spy (--gil, raw stacks)

Each repetition starts the service (bench/common.py: temporary SQLite, free port,
127.0.0.1), registers a run and a job, then posts new events on a schedule (open loop:
mutation k is sent at start + k/rate, whatever the answers do) first with no subscriber,
for the baseline, then with the subscribers connected from `--processes` client processes.
The clients parse only the frame headers and the event id (no JSON decoding), so they stay
cheap beside the server on a shared host. Printed: delivery latency p50/p99 (from just
before the POST is sent to the frame's arrival, CLOCK_MONOTONIC of one host), messages
expected vs received (lost, duplicated), the server's peak RSS, and its CPU (user+system of
its process group, from /proc) per delivered message: in all, and beyond the baseline (what
each subscriber costs per message delivered to it). Median (min-max) over the repetitions.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from common import (
    START_TIMEOUT,
    Figures,
    RawSubscriber,
    Server,
    percentile,
    start_service,
    verdict,
)

BASELINE_MUTATIONS = 250
DELIVERY_TIMEOUT = 30.0
EVENT_ID = b'"event_uuid":"fan-'  # the mutations' event ids are fan-<number>

TARGET_P99_MS = 100.0
TARGET_RSS_MB = 200.0
TARGET_US_PER_DELIVERY = 15.0

RUN = {"run_uuid": "fan-run", "run_datetime": "2026-01-01T00:00:00.000"}
JOB = {"run_uuid": "fan-run", "job_uuid": "fan-job", "job_datetime": "2026-01-01T00:00:00.000"}


def event(number: int) -> dict[str, str]:
    return {"event_uuid": f"fan-{number}", "job_uuid": "fan-job", "event_content": "step done",
            "event_datetime": "2026-01-01T00:00:00.000"}


# The subscribers: `count` connections per client process.


class ClientProcess:
    """`count` raw WebSocket subscribers in a process of their own; records, per message of
    a mutation, its number and arrival time."""

    def __init__(self, url: str, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_client_main, args=(url, count, child),
                                        daemon=True)
        self._process.start()

    def wait_ready(self) -> None:
        if not self._pipe.poll(START_TIMEOUT * 2) or self._pipe.recv() != "ready":
            raise RuntimeError("subscribers did not connect")

    def ask(self, expected: int) -> None:
        self._pipe.send(expected)

    def answer(self) -> tuple[array[int], array[float]]:
        return self._pipe.recv()

    def close(self) -> None:
        self._process.join(START_TIMEOUT)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _client_main(url: str, count: int, pipe: Any) -> None:
    asyncio.run(_client(url, count, pipe))


async def _client(url: str, count: int, pipe: Any) -> None:
    numbers: array[int] = array("i")
    times: array[float] = array("d")
    target: int | None = None
    all_arrived = asyncio.Event()

    def on_text(payload: bytes, now: float) -> None:
        start = payload.find(EVENT_ID)
        if start < 0:
            return
        start += len(EVENT_ID)
        numbers.append(int(payload[start:payload.index(b'"', start)]))
        times.append(now)
        if target is not None and len(numbers) >= target:
            all_arrived.set()

    loop = asyncio.get_running_loop()
    host, port = url.removeprefix("http://").split(":")
    connections: list[RawSubscriber] = []
    for _ in range(count):
        _, connection = await loop.create_connection(
            lambda: RawSubscriber(f"{host}:{port}", on_text), host, int(port))
        await connection.upgraded
        connections.append(connection)
    pipe.send("ready")
    target = await loop.run_in_executor(None, pipe.recv)
    if len(numbers) >= target:
        all_arrived.set()
    try:
        async with asyncio.timeout(DELIVERY_TIMEOUT):
            await all_arrived.wait()
    except TimeoutError:
        pass
    pipe.send((numbers, times))
    for connection in connections:
        connection.close()


# The mutations


async def post_mutations(url: str, first: int, count: int, rate: float | None
                         ) -> tuple[dict[int, float], list[float], int]:
    """POST `count` events numbered from `first`: on a schedule at `rate`, or one after
    another (None). Answers the send times, the request latencies and the errors."""
    sent: dict[int, float] = {}
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(url) as http:

        async def post(number: int) -> None:
            nonlocal errors
            sent[number] = started = time.monotonic()
            async with http.post("/api/events/", json=event(number)) as response:
                await response.read()
                errors += response.status != 201
            latencies.append(time.monotonic() - started)

        if rate is None:
            for number in range(first, first + count):
                await post(number)
        else:
            start = time.monotonic() + 0.05
            tasks = []
            for k in range(count):
                delay = start + k / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(post(first + k)))
            await asyncio.gather(*tasks)
    return sent, latencies, errors


async def repetition(figures: Figures, args: argparse.Namespace, profile: Path | None) -> None:
    rate = None if args.burst else args.rate
    mutations = args.mutations if args.burst else round(args.rate * args.seconds)
    with tempfile.TemporaryDirectory(prefix="armada-fanout-") as folder:
        with start_service(Path(folder) / "armada.db", profile) as server:
            async with aiohttp.ClientSession(server.url) as http:
                for path, body in (("/api/runs/", RUN), ("/api/jobs/", JOB)):
                    async with http.post(path, json=body) as response:
                        assert response.status == 201, await response.text()
            baseline = await cpu_per_mutation(server, rate)
            clients = spread(server.url, args.subscribers, args.processes)
            try:
                for client, _ in clients:
                    client.wait_ready()
                cpu_before = server.cpu_seconds()
                sent, latencies, errors = await post_mutations(
                    server.url, BASELINE_MUTATIONS, mutations, rate)
                for client, count in clients:
                    client.ask(count * mutations)
                answers = [await asyncio.to_thread(client.answer) for client, _ in clients]
                cpu = server.cpu_seconds() - cpu_before
                disconnect_before = server.cpu_seconds()
            finally:
                for client, _ in clients:
                    client.close()
            await asyncio.sleep(1.0)  # the server sees the last disconnections
            print(f"  (disconnecting {args.subscribers}: server CPU "
                  f"{server.cpu_seconds() - disconnect_before:.2f} s)")
            rss = server.peak_rss_mb()
    record(figures, args.subscribers, mutations, sent, answers, cpu, baseline, rss,
           latencies, errors)


async def cpu_per_mutation(server: Server, rate: float | None) -> float:
    """Server CPU seconds per mutation with no subscriber, at the same rate."""
    before = server.cpu_seconds()
    _, _, errors = await post_mutations(server.url, 0, BASELINE_MUTATIONS, rate)
    assert errors == 0
    return (server.cpu_seconds() - before) / BASELINE_MUTATIONS


def spread(url: str, subscribers: int, processes: int) -> list[tuple[ClientProcess, int]]:
    counts = [subscribers // processes + (n < subscribers % processes) for n in range(processes)]
    return [(ClientProcess(url, count), count) for count in counts if count]


def record(figures: Figures, subscribers: int, mutations: int, sent: dict[int, float],
           answers: list[tuple[array[int], array[float]]], cpu: float, baseline: float,
           rss: float, latencies: list[float], errors: int) -> None:
    delays: list[float] = []
    per_mutation: Counter[int] = Counter()
    for numbers, times in answers:
        per_mutation.update(numbers)
        delays.extend(at - sent[number] for number, at in zip(numbers, times, strict=True))
    received = len(delays)
    lost = sum(max(0, subscribers - per_mutation[number]) for number in sent)
    duplicated = sum(max(0, count - subscribers) for count in per_mutation.values())
    row = "fan-out"
    values = {
        "p50": percentile(delays, 50) * 1000, "p99": percentile(delays, 99) * 1000,
        "max": max(delays, default=float("nan")) * 1000,
        "lost": lost, "duplicated": duplicated, "rss": rss,
        "cpu_per_delivery": cpu / received * 1e6 if received else float("nan"),
        "per_subscriber": (cpu - baseline * mutations) / received * 1e6 if received
        else float("nan"),
        "post_p99": percentile(latencies, 99) * 1000, "errors": errors,
        "baseline_us": baseline * 1e6,
    }
    for name, value in values.items():
        figures.add(row, name, value)
    print(f"  {received:,}/{subscribers * mutations:,} delivered (lost {lost}, duplicated "
          f"{duplicated}), delivery p50 {values['p50']:.1f} ms, p99 {values['p99']:.1f} ms, "
          f"max {values['max']:.0f} ms; server CPU {cpu:.2f} s = "
          f"{values['cpu_per_delivery']:.1f} µs/delivery ({values['per_subscriber']:.1f} beyond "
          f"the {values['baseline_us']:.0f} µs/mutation of no subscriber); peak RSS {rss:.0f} MB;"
          f" POST p99 {values['post_p99']:.1f} ms, errors {errors}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="mutations/s (open loop)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--burst", action="store_true",
                        help="post --mutations events one after another, as fast as they go")
    parser.add_argument("--mutations", type=int, default=1000, help="with --burst")
    parser.add_argument("--processes", type=int, default=2, help="subscriber client processes")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--profile", type=Path,
                        help="run the service under py-spy: collapsed stacks into this folder")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    figures = Figures()
    for rep in range(1, args.reps + 1):
        print(f"repetition {rep}/{args.reps}", flush=True)
        profile = args.profile / f"fanout-{rep}.txt" if args.profile else None
        await repetition(figures, args, profile)
    load = (f"{args.mutations} mutations in a burst" if args.burst
            else f"{args.rate:.0f} mutations/s for {args.seconds:.0f} s")
    print(f"\n{args.subscribers} subscribers in {args.processes} client processes, {load}, "
          f"{args.reps} repetition(s); median (min-max)")
    print(figures.table([
        ("p50", "delivery p50 ms", 1), ("p99", "delivery p99 ms", 1), ("max", "max ms", 0),
        ("lost", "lost", 0), ("duplicated", "duplicated", 0), ("rss", "peak RSS MB", 0),
        ("cpu_per_delivery", "CPU µs/delivery", 1),
        ("per_subscriber", "µs/msg/subscriber", 1), ("baseline_us", "µs/mutation, 0 subs", 0),
        ("post_p99", "POST p99 ms", 1), ("errors", "errors", 0),
    ]))
    print("\nTargets:")
    for name, title, limit in (("p99", "delivery p99 ms", TARGET_P99_MS),
                               ("lost", "messages lost", 0),
                               ("rss", "server peak RSS MB", TARGET_RSS_MB),
                               ("per_subscriber", "µs per message per subscriber",
                                TARGET_US_PER_DELIVERY)):
        figure = figures.get("fan-out", name)
        print(f"  {title}: {figure.show()} (target ≤ {limit:g}): "
              f"{verdict(figure.median, limit)}")


if __name__ == "__main__":
    asyncio.run(main())
