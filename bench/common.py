"""What every benchmark shares: the server as a child process, its CPU and memory read
from /proc, an open-loop load generator, the bare aiohttp app to compare with, and
medians of repetitions.

The client shares the host's cores with the server, so raw requests/s mostly measure the
client. The figures that matter are the server's CPU per request (user+system of its
whole process group, from /proc) and latency at a fixed offered load, measured from the
time each request was scheduled (not sent), so a slow answer cannot hide the queue behind it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
START_TIMEOUT = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Connections the client keeps open: one per lane is enough, lanes never overlap.
CONNECTION_LIMIT = 128
REQUEST_TIMEOUT = 30.0
# Every server measured runs on this loop (ARMADA_EVENT_LOOP: auto is uvloop where it is
# installed), the service, the bare app and the seed design alike, so ratios compare like
# with like.
EVENT_LOOP = os.environ.get("ARMADA_EVENT_LOOP", "auto").lower()

# What one lane sends next: (method, path, json body or None, params or None), or None: done.
Request = tuple[str, str, Any, Any]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A child process in its own process group, serving HTTP on 127.0.0.1:`port`."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int,
                 ready_path: str = "/", wrapped: bool = False, cwd: Path = REPO_ROOT,
                 start_timeout: float = START_TIMEOUT) -> None:
        self.port = port
        self.wrapped = wrapped
        self.url = f"http://127.0.0.1:{port}"
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_answering(ready_path, start_timeout)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU of every process in the server's group (all their threads)."""
        return sum(utime + stime for _, utime, stime in self._group()) / CLOCK_TICKS

    def _group(self) -> list[tuple[int, int, int]]:
        """(pid, utime, stime) of every process whose process group is the server's."""
        group = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.pid:  # pgrp: the session leader's pid
                group.append((int(entry), int(fields[11]), int(fields[12])))
        return group

    def peak_rss_mb(self) -> float:
        """VmHWM, the peak resident memory of the server process since it started."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.wrapped and self.process.poll() is None:
            # Stop the server under the wrapper (py-spy), which then writes its output.
            for pid, _, _ in self._group():
                if pid != self.pid:
                    os.kill(pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_until_answering(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n"
                                   f"{self.output()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not answer on {self.url} within {timeout}s")


def start_service(db_path: Path, profile: Path | None = None,
                  checkout: Path = REPO_ROOT, variables: dict[str, str] | None = None) -> Server:
    """`python -m armada serve` on SQLite at `db_path`, a free port, logging warnings only;
    the service of `checkout` (this one by default), with `variables` added to its
    environment.

    With `profile`, the service runs under `py-spy record` writing collapsed stacks there
    (its CPU then counts in the figures too: use it to look, not to measure).
    """
    port = free_port()
    env = {**service_env(db_path, port, checkout), **(variables or {})}
    argv = [sys.executable, "-m", "armada", "serve"]
    if profile is not None:
        beside = Path(sys.executable).parent / "py-spy"
        py_spy = str(beside) if beside.exists() else shutil.which("py-spy")
        if py_spy is None:
            raise RuntimeError("--profile needs py-spy, beside this Python or on the PATH")
        argv = [py_spy, "record", "--rate", "250", "--format", "raw", "--gil", "--subprocesses",
                "-o", str(profile), "--", *argv]
    # `python -m` looks in the working directory first: the checkout's package, not ours.
    return Server(argv, env, port, ready_path="/api/runs/", wrapped=profile is not None,
                  cwd=checkout)


# Set by a bench's --sql-server: the services it starts use the SQL Server (or other TDS
# engine) that this environment's SQL_SERVER_* variables name, instead of SQLite at db_path.
SQL_SERVER_FROM_ENVIRONMENT = False


def service_env(db_path: Path, port: int, checkout: Path = REPO_ROOT) -> dict[str, str]:
    """The environment of `checkout`'s service on SQLite at `db_path` (or on SQL Server, see
    SQL_SERVER_FROM_ENVIRONMENT), 127.0.0.1:`port`: none of ours inherited, logging warnings
    only, `EVENT_LOOP`, `checkout` on the path."""
    kept = ("ARMADA_",) if SQL_SERVER_FROM_ENVIRONMENT else ("ARMADA_", "SQL_SERVER_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(kept)}
    env.update(ARMADA_DB_PATH=str(db_path), ARMADA_PORT=str(port), ARMADA_HOST="127.0.0.1",
               ARMADA_LOG_LEVEL="WARNING", ARMADA_EVENT_LOOP=EVENT_LOOP,
               PYTHONPATH=os.pathsep.join(filter(None, [str(checkout), env.get("PYTHONPATH")])))
    return env


def start_seed(db_path: Path) -> Server:
    """The seed design (bench/seed_app.py: FastAPI, a connection per call, serial broadcast)."""
    port = free_port()
    return Server([sys.executable, str(BENCH_DIR / "seed_app.py"), str(db_path), str(port)],
                  dict(os.environ), port, ready_path="/api/runs/")


def start_bare() -> Server:
    """The bare aiohttp app (bench/bare_app.py): any request answers a small JSON body."""
    port = free_port()
    return Server([sys.executable, str(BENCH_DIR / "bare_app.py"), str(port)],
                  dict(os.environ), port)


# Load


@dataclass
class LoadResult:
    """What one scenario measured, client side and server side."""

    sent: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    cpu: float = 0.0
    error_samples: list[str] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed else 0.0

    @property
    def cpu_per_request_us(self) -> float:
        return self.cpu / self.sent * 1e6 if self.sent else float("nan")


async def run_lanes(url: str, lanes: Sequence[Callable[[], Request | None]], *,
                    rate: float | None, duration: float,
                    on_sent: Callable[[Request, float], None] | None = None,
                    on_answer: Callable[[Request, int, Any], None] | None = None,
                    ) -> LoadResult:
    """Drive `lanes` (each sends its requests one after another) for `duration` seconds.

    Open loop when `rate` is given: request k is scheduled at start + k/rate and goes to
    lane k mod len(lanes); its latency counts from that scheduled time, so a lane still
    waiting for an earlier answer makes the next one late, and that shows. Closed loop
    (`rate` None): every lane sends its next request as soon as the previous is answered.
    """
    result = LoadResult()
    connector = aiohttp.TCPConnector(limit=CONNECTION_LIMIT)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as http:
        start = time.monotonic() + 0.05
        end = start + duration

        async def lane(index: int, next_request: Callable[[], Request | None]) -> None:
            slot = index
            while True:
                scheduled = start + slot / rate if rate else time.monotonic()
                if scheduled >= end:
                    return
                delay = scheduled - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                request = next_request()
                if request is None:
                    return
                method, path, body, params = request
                if on_sent is not None:
                    on_sent(request, time.monotonic())
                result.sent += 1
                try:
                    async with http.request(method, path, json=body, params=params) as response:
                        data = await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as error:
                    status, data = 0, repr(error).encode()
                result.latencies.append(time.monotonic() - scheduled)
                if not 200 <= status < 300:
                    result.errors += 1
                    if len(result.error_samples) < 5:
                        result.error_samples.append(f"{method} {path} -> {status} {data[:200]!r}")
                if on_answer is not None:
                    on_answer(request, status, data)
                slot += len(lanes)

        await asyncio.gather(*(lane(i, next_request) for i, next_request in enumerate(lanes)))
        result.elapsed = max(time.monotonic(), end) - start if rate else time.monotonic() - start
    return result


async def measure(server: Server, load: Callable[[], Awaitable[LoadResult]]) -> LoadResult:
    """Run `load` against `server`; add the server's CPU seconds spent meanwhile."""
    before = server.cpu_seconds()
    result = await load()
    result.cpu = server.cpu_seconds() - before
    return result


# Figures


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0 to 100), nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Figure:
    """One figure over repetitions: its median and range."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def show(self, digits: int = 1) -> str:
        if not self.values:
            return "-"
        if len(self.values) == 1:
            return f"{self.values[0]:.{digits}f}"
        return (f"{self.median:.{digits}f} ({min(self.values):.{digits}f}-"
                f"{max(self.values):.{digits}f})")


class Figures:
    """Named figures per scenario, printed as a table at the end."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Figure]] = {}

    def add(self, scenario: str, name: str, value: float) -> None:
        self.rows.setdefault(scenario, {}).setdefault(name, Figure()).add(value)

    def get(self, scenario: str, name: str) -> Figure:
        return self.rows.get(scenario, {}).get(name, Figure())

    def table(self, columns: Sequence[tuple[str, str, int]]) -> str:
        """Markdown table: one row per scenario; columns are (figure name, header, digits)."""
        header = ["scenario", *(title for _, title, _ in columns)]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for scenario, figures in self.rows.items():
            cells = [scenario] + [figures[name].show(digits) if name in figures else "-"
                                  for name, _, digits in columns]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def record_load(figures: Figures, scenario: str, result: LoadResult,
                server: Server | None = None) -> None:
    """The standard figures of one repetition of one scenario."""
    figures.add(scenario, "rate", result.rate)
    figures.add(scenario, "errors", result.errors)
    figures.add(scenario, "p50", percentile(result.latencies, 50) * 1000)
    figures.add(scenario, "p99", percentile(result.latencies, 99) * 1000)
    figures.add(scenario, "cpu_us", result.cpu_per_request_us)
    if server is not None:
        figures.add(scenario, "rss_mb", server.peak_rss_mb())
    for name, value in result.extra.items():
        figures.add(scenario, name, value)
    errors = f", e.g. {result.error_samples[0]}" if result.error_samples else ""
    print(f"  {scenario}: {result.sent} requests in {result.elapsed:.1f}s "
          f"({result.rate:.0f}/s), errors {result.errors}{errors}, "
          f"p50 {percentile(result.latencies, 50) * 1000:.1f} ms, "
          f"p99 {percentile(result.latencies, 99) * 1000:.1f} ms, "
          f"server CPU {result.cpu_per_request_us:.0f} µs/request"
          + (f", peak RSS {server.peak_rss_mb():.0f} MB" if server is not None else "")
          + "".join(f", {name} {value:.1f}" for name, value in result.extra.items()),
          flush=True)


async def bare_load(lanes: Sequence[Callable[[], Request | None]], *, rate: float | None,
                    duration: float) -> LoadResult:
    """The same lanes against the bare aiohttp app, in a fresh process."""
    with start_bare() as bare:
        return await measure(bare, lambda: run_lanes(bare.url, lanes, rate=rate,
                                                      duration=duration))


def verdict(value: float, limit: float) -> str:
    return "meets" if value <= limit else "MISSES"


# WebSocket subscribers, in a process of their own


# The field that names what a broadcast message is about, per message type.
KEY_FIELD = {
    "new_run": "run_uuid", "delete_run": "run_uuid", "new_job": "job_uuid",
    "update_job_status": "job_uuid", "new_event": "event_uuid",
    "update_event_status": "event_uuid",
}
DRAIN_SECONDS = 10.0


def message_key(message_type: str, data: dict[str, Any]) -> str:
    return f"{message_type}:{data.get(KEY_FIELD.get(message_type, ''), '')}"


class Subscribers:
    """`count` WebSocket subscribers of `url`, in a separate process so that reading their
    messages does not slow the process that sends requests and times their answers.

    Records the arrival time (CLOCK_MONOTONIC, shared by all processes) of every message
    per message key (`message_key`).
    """

    def __init__(self, url: str, count: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.count = count
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_subscribers_main, args=(url, count, child),
                                        daemon=True)
        self._process.start()
        if not self._pipe.poll(START_TIMEOUT) or self._pipe.recv() != "ready":
            raise RuntimeError("subscribers did not connect")

    def finish(self, expected_per_subscriber: int) -> tuple[int, dict[str, list[float]]]:
        """Wait (up to DRAIN_SECONDS) for every expected message; answer what arrived."""
        self._pipe.send(expected_per_subscriber * self.count)
        received, arrivals = self._pipe.recv()
        self._process.join(START_TIMEOUT)
        return received, arrivals

    def close(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _subscribers_main(url: str, count: int, pipe: Any) -> None:
    asyncio.run(_subscribe(url, count, pipe))


async def _subscribe(url: str, count: int, pipe: Any) -> None:
    import json
    from collections import defaultdict

    arrivals: dict[str, list[float]] = defaultdict(list)
    received = 0
    target: int | None = None
    all_arrived = asyncio.Event()

    def on_text(payload: bytes, now: float) -> None:
        nonlocal received
        parsed = json.loads(payload)
        arrivals[message_key(parsed["type"], parsed["data"])].append(now)
        received += 1
        if target is not None and received >= target:
            all_arrived.set()

    loop = asyncio.get_running_loop()
    host, port = url.removeprefix("http://").split(":")
    sockets: list[RawSubscriber] = []
    for _ in range(count):
        _, subscriber = await loop.create_connection(
            lambda: RawSubscriber(f"{host}:{port}", on_text), host, int(port))
        await subscriber.upgraded
        sockets.append(subscriber)
    pipe.send("ready")
    target = await loop.run_in_executor(None, pipe.recv)
    if received >= target:
        all_arrived.set()
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            await all_arrived.wait()
    except TimeoutError:
        pass
    pipe.send((received, dict(arrivals)))
    for subscriber in sockets:
        subscriber.close()


class RawSubscriber(asyncio.Protocol):
    """A minimal WebSocket client of `/ws/events/`: the upgrade, then the server's frames
    (never masked, never fragmented by aiohttp) parsed by hand; pings answered.

    aiohttp's client costs several times more per message; fifty of it in one process
    could not keep up with 500 requests/s on the shared 2-core host, and the client's
    delay would be counted as delivery latency.
    """

    def __init__(self, host: str, on_text: Callable[[bytes, float], None]) -> None:
        self._host = host
        self._on_text = on_text
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((
            f"GET /ws/events/ HTTP/1.1\r\nHost: {self._host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed before the upgrade"))

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buffer = self._buffer
        buffer += data
        if not self.upgraded.done():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[:end]).split(b"\r\n", 1)[0]
            del buffer[:end + 4]
            if b" 101 " not in status:
                self.upgraded.set_exception(ConnectionError(status.decode(errors="replace")))
                return
            self.upgraded.set_result(None)
        position, size = 0, len(buffer)
        while size - position >= 2:
            opcode, length = buffer[position] & 0x0F, buffer[position + 1] & 0x7F
            header = {126: 4, 127: 10}.get(length, 2)
            if size - position < header:
                break
            if header > 2:
                length = int.from_bytes(buffer[position + 2:position + header])
            if size - position < header + length:
                break
            payload = bytes(buffer[position + header:position + header + length])
            position += header + length
            if opcode == 0x1:
                self._on_text(payload, now)
            elif opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                self.close()
        del buffer[:position]

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._send(0x8, (1000).to_bytes(2))
            self._transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        """A client frame: always masked; control payloads are under 126 bytes."""
        assert self._transport is not None
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self._transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)


def sql_server_engine() -> str:
    """The first line of @@VERSION of the engine SQL_SERVER_* name (a bench's label: Babelfish
    answers as Babelfish, and its figures are not SQL Server's)."""
    import pytds

    from armada.config import MssqlSettings, load_config

    settings = load_config(os.environ).database
    if not isinstance(settings, MssqlSettings):
        raise SystemExit("--sql-server: SQL_SERVER_NAME is not set")
    with pytds.connect(dsn=settings.server, port=settings.port, user=settings.user,
                       password=settings.password, database=settings.database,
                       autocommit=True, login_timeout=10) as connection, \
            connection.cursor() as cursor:
        cursor.execute("SELECT @@VERSION")
        return str(cursor.fetchone()[0]).strip().splitlines()[0]
