"""Instructions per request, counted by valgrind's callgrind: A/B figures that repeat.

On the 2-core host, CPU time per request swings by ±20% from one hour to the next; the
number of instructions a server executes for the same requests repeats within 1-3%.
This runs each server under callgrind with counting off, sends a warm-up, then counts
every instruction of the server's threads over `--requests` requests of the agent workload
(bench/ingest.py's first agent: a job, ten events, a status, over and over), sent one
after another on one keep-alive connection. It prints the instructions per request of
each thread (main: the event loop; writer: the store's writer thread, taken to be the
busiest thread after main, as the workload is all writes; other: the readers and executors,
and on asyncio's loop its default executor), each service's as a multiple of the
bare aiohttp app's and, with --other, this checkout's as a multiple of the other's.

What counts: the instructions the server process executes in user space (Python, aiohttp,
SQLite, libc). What does not: the kernel's work (the fsync of each commit, the WAL's
writes, the sockets' sends and receives, epoll), waiting, and whatever makes one
instruction cost more than another (cache misses). valgrind also runs one thread at a
time, so the requests go one by one, each its own commit: the closed loop's batching
(group commits, several messages per write) does not happen here; work on a timer (the
search queue, indexed every 0.5 s) counts per second taken, a little more on a busy host.
So this complements bench/seed.py's and bench/compare.py's CPU figures, it does not
replace them: it tells whether a change makes the code path of a request cheaper; they
tell what a request costs on the host.

    python bench/instructions.py                    # bare app and this service (about 1 min)
    python bench/instructions.py --other /tmp/before    # and another checkout's service
    python bench/instructions.py --reps 3 --requests 600
    python bench/instructions.py --keep DIR         # keep callgrind's files (callgrind_annotate)
    python bench/instructions.py --log-level INFO   # with the request log, as by default
    python bench/instructions.py --batch 25 --subscribers 50  # per event, through the batch
        # endpoint, with 50 WebSocket subscribers reading every message (the fan-out's share)

With --batch N, each counted request is `POST /api/events/batch` of N events of one job
(the job registered in the warm-up) and the figures are per event; --subscribers K connects
K plain WebSocket clients first (threads that read and discard), so the fan-out to them
counts too, in user space (the kernel's sends do not). The bare app then answers the
same batches (no subscriber: it has no WebSocket), per event.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from common import BENCH_DIR, REPO_ROOT, Figures, Request, Server, free_port, service_env
from ingest import EVENTS_PER_JOB, AgentWorkload, now_text

REQUESTS_PER_JOB = EVENTS_PER_JOB + 2  # the job, its events, its status
WARM_UP = 12 * REQUESTS_PER_JOB
BATCH_WARM_UP = 20
# Python starts many times slower under valgrind, and slower still on a busy host.
START_TIMEOUT = 240.0
ANSWER_TIMEOUT = 60.0
# The service indexes queued events for search every 0.5 s (SEARCH_QUEUE_SECONDS): counting
# starts once the warm-up's are indexed and ends once the counted requests' are.
SETTLE_SECONDS = 1.5
# callgrind numbers threads in the order they start: the event loop's is 1. Which number the
# writer gets depends on the loop (asyncio's default executor may start first).
MAIN_THREAD = 1
SERVICE_ROLES = ("main", "writer", "other")
BARE_ROLES = ("main", "other")

# Starts a server: its command line goes after `wrapper`, its database into `folder`.
Starter = Callable[[list[str], Path], Server]


class Target(NamedTuple):
    label: str
    start: Starter
    roles: tuple[str, ...]  # "main", then the busiest other thread's role if any; "other" last


def callgrind(out: Path) -> list[str]:
    """valgrind running callgrind, counting nothing until told to (`callgrind_control -i on`;
    --collect-atstart=no instead would count nothing even then), one file per thread."""
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
            f"--callgrind-out-file={out}/cg.%p"]


def start_bare(wrapper: list[str], folder: Path) -> Server:
    port = free_port()
    return Server([*wrapper, sys.executable, str(BENCH_DIR / "bare_app.py"), str(port)],
                  dict(os.environ), port, start_timeout=START_TIMEOUT)


def service_starter(checkout: Path, log_level: str) -> Starter:
    def start(wrapper: list[str], folder: Path) -> Server:
        port = free_port()
        env = service_env(folder / "armada.db", port, checkout)
        env["ARMADA_LOG_LEVEL"] = log_level
        return Server([*wrapper, sys.executable, "-m", "armada", "serve"], env, port,
                      ready_path="/api/runs/", cwd=checkout, start_timeout=START_TIMEOUT)
    return start


def count(start: Starter, requests: int, out: Path, batch: int = 0,
          subscribers: int = 0) -> dict[int, int]:
    """Instructions of each thread (by number, from 1) of the server `start` starts, over
    `requests` requests after the warm-up (batches of `batch` events when not 0, with
    `subscribers` WebSocket readers); callgrind's files go into `out`."""
    with tempfile.TemporaryDirectory(prefix="armada-bench-") as folder, \
            start(callgrind(out), Path(folder)) as server:
        next_request = batches(batch) if batch else AgentWorkload().lanes()[0]
        readers = [Reader(server.port) for _ in range(subscribers)]
        connection = http.client.HTTPConnection("127.0.0.1", server.port,
                                                timeout=ANSWER_TIMEOUT)
        try:
            send(connection, next_request, BATCH_WARM_UP if batch else WARM_UP)
            time.sleep(SETTLE_SECONDS)
            callgrind_control(server.pid, "-i", "on")
            send(connection, next_request, requests)
            time.sleep(SETTLE_SECONDS)
            callgrind_control(server.pid, "-i", "off")
            callgrind_control(server.pid, "-d")
        finally:
            connection.close()
            for reader in readers:
                reader.close()
    return thread_totals(out, server.pid)


def batches(size: int) -> Callable[[], Request]:
    """A job, then batches of `size` new events of it, one request each."""
    job_uuid = str(uuid.uuid4())
    numbers = itertools.count()

    def next_request() -> Request:
        number = next(numbers)
        if number == 0:
            return ("POST", "/api/jobs/", {"run_uuid": "run-batches", "job_uuid": job_uuid,
                                          "job_datetime": now_text()}, None)
        return ("POST", "/api/events/batch", {"events": [
            {"event_uuid": str(uuid.uuid4()), "job_uuid": job_uuid,
             "event_content": f"Step {number}.{step}: page loaded, form submitted",
             "event_datetime": now_text()} for step in range(size)]}, None)
    return next_request


class Reader:
    """A WebSocket subscriber that reads and discards everything, in a thread."""

    def __init__(self, port: int) -> None:
        self._socket = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self._socket.sendall((
            f"GET /ws/events/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self._socket.recv(4096)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise SystemExit(f"subscriber refused: {head[:200]!r}")
        self._socket.settimeout(None)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while self._socket.recv(1 << 16):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self._socket.close()


def send(connection: http.client.HTTPConnection, next_request: Callable[[], Request | None],
         count: int) -> None:
    """`count` requests, each sent once the previous is answered; any answer but 2xx ends
    the run."""
    for _ in range(count):
        request = next_request()
        assert request is not None, "an agent's requests never end"
        method, path, body, _ = request
        connection.request(method, path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        if not 200 <= response.status < 300:
            raise SystemExit(f"{method} {path} -> {response.status} {answer[:200]!r}")


def callgrind_control(pid: int, *command: str) -> None:
    done = subprocess.run(["callgrind_control", *command, str(pid)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"callgrind_control {' '.join(command)} {pid} failed:\n"
                         f"{done.stdout}{done.stderr}")


def thread_totals(out: Path, pid: int) -> dict[int, int]:
    """The `totals:` line of each thread's file of the first dump (`cg.PID.1-TT`); the
    `summary:` line is 0 there."""
    totals = {}
    for path in out.glob(f"cg.{pid}.1-*"):
        with path.open(errors="replace") as dump:
            for line in dump:
                if line.startswith("totals:"):
                    totals[int(path.name.rsplit("-", 1)[1])] = int(line.split()[1])
                    break
    if not totals:
        raise SystemExit(f"no callgrind dump of process {pid} in {out}")
    return totals


def by_role(totals: dict[int, int], roles: tuple[str, ...]) -> dict[str, int]:
    """Instructions per role: main (the event loop's thread), then the busiest of the others
    as the next role named (the writer), then "other" for every remaining thread."""
    named = dict.fromkeys(roles, 0)
    named["main"] = totals.get(MAIN_THREAD, 0)
    others = sorted((count for thread, count in totals.items() if thread != MAIN_THREAD),
                    reverse=True)
    middle = [role for role in roles if role not in ("main", "other")]
    for role in middle:
        named[role] = others.pop(0) if others else 0
    named["other"] = sum(others)
    return named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300,
                        help="requests counted per server (default 300; a multiple of "
                             f"{REQUESTS_PER_JOB} keeps the mix of a job exact)")
    parser.add_argument("--other", type=Path, help="another checkout's service, counted too")
    parser.add_argument("--reps", type=int, default=1,
                        help="runs of each server (default 1; more: median and min-max)")
    parser.add_argument("--keep", type=Path,
                        help="keep callgrind's files here, a folder per server and run")
    parser.add_argument("--batch", type=int, default=0,
                        help="events per request, through POST /api/events/batch (figures "
                             "per event)")
    parser.add_argument("--subscribers", type=int, default=0,
                        help="WebSocket subscribers reading every message (this checkout "
                             "and --other only)")
    parser.add_argument("--log-level", default="WARNING",
                        help="the services' ARMADA_LOG_LEVEL (default WARNING, as the other "
                             "benchmarks; INFO, the service's default, adds the request log)")
    args = parser.parse_args()

    targets = {
        "bare": Target("bare app", start_bare, BARE_ROLES),
        "this": Target(f"this checkout ({REPO_ROOT})", service_starter(REPO_ROOT, args.log_level),
                       SERVICE_ROLES),
    }
    if args.other:
        targets["other"] = Target(f"other ({args.other.resolve()})",
                                  service_starter(args.other.resolve(), args.log_level),
                                  SERVICE_ROLES)
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="armada-callgrind-") as scratch:
        root = args.keep or Path(scratch)
        for rep in range(1, args.reps + 1):
            print(f"repetition {rep}/{args.reps}", flush=True)
            total: dict[str, float] = {}
            for key, target in targets.items():
                out = root / f"{key}-{rep}"
                out.mkdir(parents=True, exist_ok=True)
                subscribers = 0 if key == "bare" else args.subscribers
                roles = by_role(count(target.start, args.requests, out, args.batch,
                                      subscribers), target.roles)
                roles = {role: value // (args.batch or 1) for role, value in roles.items()}
                total[key] = sum(roles.values()) / args.requests
                figures.add(target.label, "total", total[key] / 1000)
                for role, instructions in roles.items():
                    figures.add(target.label, role, instructions / args.requests / 1000)
                print(f"  {target.label}: {total[key] / 1000:.0f}k instructions per "
                      f"{'event' if args.batch else 'request'} ("
                      + ", ".join(f"{role} {instructions / args.requests / 1000:.0f}k"
                                  for role, instructions in roles.items())
                      + (f"); files in {out}" if args.keep else ")"), flush=True)
            for key, target in targets.items():
                if key != "bare":
                    figures.add(target.label, "x_bare", total[key] / total["bare"])
            if "other" in targets:
                figures.add(targets["this"].label, "x_other", total["this"] / total["other"])

    print()
    if args.batch:
        print(f"Instructions per event (thousands), {args.requests} sequential batches of "
              f"{args.batch} events after {BATCH_WARM_UP} unmeasured, {args.subscribers} "
              f"subscribers, {args.reps} run(s); median (min-max)")
    else:
        print(f"Instructions per request (thousands), {args.requests} sequential requests of "
              f"the agent workload after {WARM_UP} unmeasured, {args.reps} run(s); "
              "median (min-max)")
    print(figures.table([
        ("total", "k instr/req", 0), ("main", "main", 0), ("writer", "writer", 0),
        ("other", "other", 0), ("x_bare", "x bare", 2), ("x_other", "x other", 3),
    ]))


if __name__ == "__main__":
    main()
