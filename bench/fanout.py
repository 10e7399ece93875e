"""Fan-out benchmark: 1,000 WebSocket subscribers on one service process, 1,000 mutations.

    python bench/fanout.py [--subscribers 1000] [--mutations 1000] [--repetitions 3]

Each repetition starts the service itself (`python -m armada serve`, temporary SQLite,
127.0.0.1, a free port), connects the subscribers from a separate client process, posts
the mutations one after another from this process, and prints delivery latency p50/p99
(from just before each POST is sent to the arrival of its message, same clock: one host),
messages expected vs received (lost), and the server's peak RSS. Every phase is bounded
in time; the summary is the median with min-max over the repetitions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0
CONNECT_TIMEOUT = 60.0
DELIVERY_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(db_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARMADA_", "SQL_SERVER_"))}
    env.update(PYTHONPATH=str(REPO_ROOT), ARMADA_DB_PATH=str(db_path), ARMADA_PORT=str(port),
               ARMADA_HOST="127.0.0.1", ARMADA_LOG_LEVEL="WARNING",
               ARMADA_WS_QUEUE=str(10_000))
    process = subprocess.Popen([sys.executable, "-m", "armada", "serve"], cwd=db_path.parent,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs/", timeout=1):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the service did not start")


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# The subscriber side: a separate process, so it does not compete with the poster.

async def subscribe_all(url: str, count: int, expected: int) -> None:
    """Connect `count` subscribers, say `ready`, then report each arrival time of each
    event uuid; print one JSON line when every subscriber has `expected` messages or time
    runs out."""
    arrivals: dict[str, list[float]] = {}
    received = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            sockets = await asyncio.gather(*(session.ws_connect(url) for _ in range(count)))
        print("ready", flush=True)

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal received
            events = 0
            while events < expected:
                frame = await ws.receive()
                if frame.type != aiohttp.WSMsgType.TEXT:
                    return
                now = time.time()
                uuid = json.loads(frame.data)["data"].get("event_uuid")
                if uuid is not None:  # the run and the job come first
                    arrivals.setdefault(uuid, []).append(now)
                    events += 1
                    received += 1

        readers = [asyncio.create_task(read(ws)) for ws in sockets]
        await asyncio.wait(readers, timeout=DELIVERY_TIMEOUT)
        for task in readers:
            task.cancel()
        print(json.dumps({"received": received, "arrivals": arrivals}), flush=True)
        for ws in sockets:
            await ws.close()


async def one_repetition(subscribers: int, mutations: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        port = free_port()
        service = start_service(Path(directory) / "armada.db", port)
        base = f"http://127.0.0.1:{port}"
        try:
            client = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--subscriber-process", f"ws://127.0.0.1:{port}/ws/events/",
                str(subscribers), str(mutations), stdout=asyncio.subprocess.PIPE,
                limit=1 << 30)
            assert client.stdout is not None
            async with asyncio.timeout(CONNECT_TIMEOUT):
                assert (await client.stdout.readline()).strip() == b"ready"
            async with aiohttp.ClientSession(base_url=base) as session:
                # The run and job exist before the subscribers count messages.
                sent: dict[str, float] = {}
                await session.post("/api/runs/", json={"run_uuid": "bench",
                                                        "run_datetime": "2026-01-01T00:00:00"})
                await session.post("/api/jobs/", json={
                    "run_uuid": "bench", "job_uuid": "job", "job_datetime": "2026-01-01T00:00:00"})
                started = time.monotonic()
                for n in range(mutations):
                    uuid = f"event-{n}"
                    sent[uuid] = time.time()
                    async with session.post("/api/events/", json={
                            "event_uuid": uuid, "job_uuid": "job", "event_content": "x",
                            "event_datetime": "2026-01-01T00:00:00"}) as response:
                        assert response.status == 201
                post_seconds = time.monotonic() - started
            async with asyncio.timeout(DELIVERY_TIMEOUT + 10):
                report = json.loads(await client.stdout.readline())
            await client.wait()
        finally:
            rss = peak_rss_kib(service.pid)
            service.terminate()
            service.wait(timeout=START_TIMEOUT)
    latencies = sorted(
        (arrival - sent[uuid]) * 1000
        for uuid, times in report["arrivals"].items() if uuid in sent for arrival in times
    )
    expected = subscribers * mutations
    received = len(latencies)
    return {
        "p50_ms": latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
        "expected": expected,
        "received": received,
        "lost": expected - received,
        "posts_per_s": mutations / post_seconds,
        "peak_rss_mib": rss / 1024,
    }


def summary(name: str, values: list[float], unit: str) -> str:
    return (f"{name}: {statistics.median(values):.1f} {unit} "
            f"(min {min(values):.1f}, max {max(values):.1f})")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--subscriber-process":
        url, count, expected = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        asyncio.run(subscribe_all(url, count, expected))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--mutations", type=int, default=1000)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    results = []
    for repetition in range(1, args.repetitions + 1):
        result = asyncio.run(one_repetition(args.subscribers, args.mutations))
        results.append(result)
        print(f"run {repetition}: p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
              f"{result['received']}/{result['expected']} received ({result['lost']} lost), "
              f"{result['posts_per_s']:.0f} mutations/s, server peak RSS "
              f"{result['peak_rss_mib']:.0f} MiB", flush=True)
    print(f"{args.subscribers} subscribers x {args.mutations} mutations, "
          f"{args.repetitions} repetitions: median (min, max)")
    for key, unit in (("p50_ms", "ms"), ("p99_ms", "ms"), ("lost", "messages"),
                      ("posts_per_s", "mutations/s"), ("peak_rss_mib", "MiB")):
        print("  " + summary(key, [r[key] for r in results], unit))


if __name__ == "__main__":
    main()
