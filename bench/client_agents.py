"""Agents that report through the agents' client (client/, `armada_client`): its batching,
against the service, with live subscribers. Used by bench/seed.py.

`agents` processes each run one `MonitoringClient` sender (one per process, as agents run)
and make event `n` (numbered across all agents) at start + n/rate, open loop, whatever the
service does; the client queues it and its thread batches the queue into
`POST /api/events/batch`. Two workloads: `events` (each agent's job is registered before the
measure, then only events) and `agent` (bench/ingest.py's: a job, ten events, the last with
the job's final status; each job and status one request, as the client sends them).

Measured: the server's CPU (its process group, from /proc) from the first event to the last
message delivered to every subscriber, per event; delivery from the moment an event was due
to be recorded (so the client's batch window counts) to its frame's arrival at each
subscriber (raw WebSocket connections in 2 processes, which find the events' numbers in the
bytes they read); messages lost; reports the clients dropped or did not deliver; events per
batch (from the service's /metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import re
import sys
import tempfile
import time
import urllib.request
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import REPO_ROOT, START_TIMEOUT, RawSubscriber, percentile, start_service
from ingest import EVENTS_PER_JOB

# Event contents end with their number, which the subscribers find in the bytes they read.
NUMBERED = re.compile(rb'form submitted n-(\d+)"')
# What a chunk keeps for the next: a match cut in two is at most this long.
TAIL_BYTES = 48
SUBSCRIBER_PROCESSES = 2
DELIVERY_TIMEOUT = 30.0
JOBS_PER_RUN = 100
FLUSH_SECONDS = 60.0


@dataclass
class ClientRun:
    """One repetition of one client scenario."""

    events: int = 0
    cpu: float = 0.0
    delays: list[float] = field(default_factory=list)
    lost: int = 0
    undelivered: int = 0
    dropped: int = 0
    late_ms: float = 0.0
    subscribers_dropped: int = 0
    batches: int = 0

    @property
    def events_per_batch(self) -> float:
        return self.events / self.batches if self.batches else float("nan")

    @property
    def cpu_per_event_us(self) -> float:
        return self.cpu / self.events * 1e6 if self.events else float("nan")


async def client_scenario(workload: str, rate: float, duration: float, subscribers: int,
                          agents: int, window: float | None,
                          checkout: Path = REPO_ROOT) -> ClientRun:
    """One repetition on a fresh database (see the module's docstring): the service and the
    agents' client of `checkout`."""
    with tempfile.TemporaryDirectory(prefix="armada-bench-client-") as folder, \
            start_service(Path(folder) / "armada.db", checkout=checkout) as server:
        watchers = [SubscriberProcess(server.url, count)
                    for count in spread(subscribers, SUBSCRIBER_PROCESSES) if count]
        context = multiprocessing.get_context("spawn")
        pipes, processes = [], []
        try:
            for watcher in watchers:
                watcher.wait_ready()
            for index in range(agents):
                pipe, child = context.Pipe()
                process = context.Process(target=_agent_main, daemon=True, args=(
                    server.url, index, agents, rate, duration, workload, window, checkout, child))
                process.start()
                pipes.append(pipe)
                processes.append(process)
            for pipe in pipes:
                if not pipe.poll(START_TIMEOUT) or pipe.recv() != "ready":
                    raise RuntimeError("an agent did not start")
            run = ClientRun()
            cpu_before = server.cpu_seconds()
            start = time.monotonic() + 0.2
            for pipe in pipes:
                pipe.send(start)
            for pipe in pipes:
                sent, undelivered, dropped, late = await asyncio.to_thread(pipe.recv)
                run.events += sent
                run.undelivered += undelivered
                run.dropped += dropped
                run.late_ms = max(run.late_ms, late * 1000)
            counts = [count for count in spread(subscribers, SUBSCRIBER_PROCESSES) if count]
            for watcher, count in zip(watchers, counts, strict=True):
                watcher.ask(count * run.events)
            answers = [await asyncio.to_thread(watcher.answer) for watcher in watchers]
            run.cpu = server.cpu_seconds() - cpu_before
            run.batches = batches_answered(server.url)
            run.subscribers_dropped = server.output().count("dropping WebSocket subscriber")
        finally:
            for watcher in watchers:
                watcher.close()
            for process in processes:
                process.join(START_TIMEOUT)
                if process.is_alive():
                    process.kill()
    received = 0
    for numbers, times in answers:
        received += len(numbers)
        run.delays.extend(at - (start + number / rate)
                          for number, at in zip(numbers, times, strict=True))
    run.lost = max(0, subscribers * run.events - received)
    return run


def batches_answered(url: str) -> int:
    """POST /api/events/batch answered so far, from the service's /metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=START_TIMEOUT) as answer:
        lines = answer.read().decode().splitlines()
    return round(sum(float(line.rsplit(" ", 1)[1]) for line in lines
                     if line.startswith("armada_http_requests_total{")
                     and "/api/events/batch" in line and 'method="POST"' in line))


def spread(total: int, parts: int) -> list[int]:
    return [total // parts + (n < total % parts) for n in range(parts)]


def describe(run: ClientRun) -> str:
    return (f"{run.events} events in {run.batches} batches ({run.events_per_batch:.0f} each),"
            f" server CPU {run.cpu_per_event_us:.0f} µs/event, delivery "
            f"p50 {percentile(run.delays, 50) * 1000:.1f} ms, p99 "
            f"{percentile(run.delays, 99) * 1000:.1f} ms, lost {run.lost}, undelivered "
            f"{run.undelivered}, dropped {run.dropped}, subscribers dropped by the service "
            f"{run.subscribers_dropped}, agents late by up to "
            f"{run.late_ms:.0f} ms")


def _agent_main(url: str, index: int, agents: int, rate: float, duration: float,
                workload: str, window: float | None, checkout: Path, pipe: Any) -> None:
    """One agent process: events index, index + agents, ... on the common schedule, through
    the client of `checkout`."""
    sys.path.insert(0, str(checkout / "client"))
    from armada_client import MonitoringClient

    options: dict[str, Any] = {"base_url": url, "raise_errors": False}
    if window is not None:
        options["batch_window"] = window
    clients: list[MonitoringClient] = []

    def new_job() -> MonitoringClient:
        number = len(clients)
        clients.append(MonitoringClient(f"run-{index}-{number // JOBS_PER_RUN}", index,
                                        f"job-{index}-{number}", **options).create_job())
        return clients[-1]

    client = new_job() if workload == "events" else None
    if client is not None:
        client.flush()
    pipe.send("ready")
    start = pipe.recv()
    end = start + duration
    number, sent, in_job, late = index, 0, 0, 0.0
    while True:
        due = start + number / rate
        if due >= end:
            break
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        else:
            late = max(late, -wait)
        if client is None or (workload == "agent" and in_job == 0):
            client = new_job()
        content = f"Step: page loaded, form submitted n-{number}"
        in_job += 1
        if workload == "agent" and in_job == EVENTS_PER_JOB:
            client.record_finalsuccess_event(content)
            in_job = 0
        else:
            client.record_success_event(content)
        sent += 1
        number += agents
    if client is not None:
        client.flush(FLUSH_SECONDS)
    pipe.send((sent, sum(one.pending for one in clients), sum(one.dropped for one in clients),
               late))


# The subscribers: `count` connections per process.


class SubscriberProcess:
    """`count` subscribers in a process of their own; records each event's number and
    arrival time per delivery."""

    def __init__(self, url: str, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_subscribers_main, args=(url, count, child),
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


class NumberScanner(RawSubscriber):
    """A subscriber that finds the event numbers in the bytes it reads, without walking the
    frames: 5,000 events/s to 50 subscribers is 250,000 frames/s, which read frame by frame
    in Python would take the host's 2 cores from the server. It answers no ping (the
    service's first comes after 20 s, beyond a scenario)."""

    def __init__(self, host: str, numbers: array[int], times: array[float],
                 arrived: Arrivals) -> None:
        super().__init__(host, lambda payload, now: None)
        self._numbers = numbers
        self._times = times
        self._arrived = arrived
        self._tail = b""

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            super().data_received(data)
            return
        now = time.monotonic()
        chunk = self._tail + data
        end = 0
        for match in NUMBERED.finditer(chunk):
            self._numbers.append(int(match.group(1)))
            self._times.append(now)
            end = match.end()
        self._tail = chunk[max(end, len(chunk) - TAIL_BYTES):]
        self._arrived.check(len(self._numbers))


class Arrivals:
    """Set once `target` deliveries have arrived (the target comes after the load)."""

    def __init__(self) -> None:
        self.target: int | None = None
        self.complete = asyncio.Event()

    def check(self, count: int) -> None:
        if self.target is not None and count >= self.target:
            self.complete.set()


def _subscribers_main(url: str, count: int, pipe: Any) -> None:
    asyncio.run(_subscribers(url, count, pipe))


async def _subscribers(url: str, count: int, pipe: Any) -> None:
    numbers: array[int] = array("q")
    times: array[float] = array("d")
    loop = asyncio.get_running_loop()
    host, port = url.removeprefix("http://").split(":")
    arrived = Arrivals()
    connections: list[NumberScanner] = []
    for _ in range(count):
        _, connection = await loop.create_connection(
            lambda: NumberScanner(f"{host}:{port}", numbers, times, arrived), host, int(port))
        await connection.upgraded
        connections.append(connection)
    pipe.send("ready")
    arrived.target = await loop.run_in_executor(None, pipe.recv)
    arrived.check(len(numbers))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DELIVERY_TIMEOUT):
            await arrived.complete.wait()
    pipe.send((numbers, times))
    for connection in connections:
        connection.close()
