"""`python -m armada tail`, run as a process against the real service (through a TCP
relay the test can cut): one readable line a message, resume by seq after a reconnect,
resync after a server restart, `--run` narrows."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from helpers import RUN, event_body, job_body
from server_process import REPO_ROOT, ServiceProcess, free_port, service_environment

from armada.tail import format_line, stream_url

LINE_TIMEOUT = 10.0
LINE = re.compile(r"^#(\d+) \d{2}:\d{2}:\d{2}\.\d{3} (\w+) +(.*)$")


class CuttableRelay:
    """A TCP relay on 127.0.0.1 in front of the service: `cut()` drops every connection
    and refuses new ones until `restore()`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess(tmp_path / "armada.db", tmp_path)
    process.start()
    yield process
    process.stop()


async def start_tail(url: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "armada", "tail", "--url", url, *args, cwd=REPO_ROOT,
        env=service_environment(), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def connected(tail: asyncio.subprocess.Process) -> None:
    """Wait for tail's `-- connected` note (on stderr)."""
    assert tail.stderr is not None
    async with asyncio.timeout(LINE_TIMEOUT):
        while not (await tail.stderr.readline()).startswith(b"-- connected"):
            pass


async def read_lines(tail: asyncio.subprocess.Process, count: int) -> list[tuple[int, str, str]]:
    """The next `count` lines as (seq, type, rest)."""
    assert tail.stdout is not None
    lines = []
    async with asyncio.timeout(LINE_TIMEOUT):
        for _ in range(count):
            line = (await tail.stdout.readline()).decode().rstrip("\n")
            match = LINE.match(line)
            assert match, line
            lines.append((int(match[1]), match[2], match[3]))
    return lines


async def stop(tail: asyncio.subprocess.Process) -> None:
    if tail.returncode is None:
        tail.terminate()
    await tail.wait()


async def test_tail_prints_each_message_and_resumes_by_seq_after_a_reconnect(service):
    relay = CuttableRelay(service.port)
    await relay.restore()
    tail = await start_tail(f"http://127.0.0.1:{relay.port}")
    try:
        async with aiohttp.ClientSession(base_url=service.url) as session:
            await connected(tail)
            assert (await session.post("/api/runs/", json=RUN)).status == 201
            assert (await session.post("/api/jobs/", json=job_body())).status == 201
            (seq, kind, rest), (_, kind2, rest2) = await read_lines(tail, 2)
            assert (kind, rest) == ("new_run", "run run-1 at 2026-02-24T10:30:00.000Z")
            assert kind2 == "new_job" and rest2.startswith("job job-1 in run run-1")

            await relay.cut()
            for n in range(3):
                response = await session.post("/api/events/", json=event_body(f"away-{n}"))
                assert response.status == 201
            await relay.restore()
            await asyncio.sleep(0.8)  # tail reconnects (backoff) and replays
            assert (await session.post("/api/events/", json=event_body("back"))).status == 201

            lines = await read_lines(tail, 4)
            assert [line[0] for line in lines] == [seq + 2, seq + 3, seq + 4, seq + 5]
            assert [line[2].split()[1] for line in lines] == ["away-0", "away-1", "away-2",
                                                             "back"]
            assert lines[0][2] == "event away-0 of job job-1 Running: Page loaded"
    finally:
        await stop(tail)
        with contextlib.suppress(AssertionError):
            await relay.cut()


async def test_tail_says_resync_after_a_server_restart_and_goes_on(service):
    tail = await start_tail(service.url)
    try:
        async with aiohttp.ClientSession(base_url=service.url) as session:
            await connected(tail)
            assert (await session.post("/api/runs/", json=RUN)).status == 201
            await read_lines(tail, 1)
        await asyncio.to_thread(service.stop)
        await asyncio.to_thread(service.start)
        (_, kind, rest), = await read_lines(tail, 1)
        assert kind == "resync" and "other_epoch" in rest
        async with aiohttp.ClientSession(base_url=service.url) as session:
            assert (await session.post("/api/jobs/", json=job_body())).status == 201
        (seq, kind, _), = await read_lines(tail, 1)
        assert (seq, kind) == (1, "new_job")
    finally:
        await stop(tail)


async def test_tail_run_shows_only_that_run(service):
    tail = await start_tail(service.url, "--run", "run-2")
    try:
        async with aiohttp.ClientSession(base_url=service.url) as session:
            await connected(tail)
            for run_uuid in ("run-1", "run-2"):
                response = await session.post("/api/jobs/", json=job_body(f"job-{run_uuid}",
                                                                           run_uuid))
                assert response.status == 201
        lines = await read_lines(tail, 2)
        assert [(kind, rest.split()[1]) for _, kind, rest in lines] == [
            ("new_run", "run-2"), ("new_job", "job-run-2")]
    finally:
        await stop(tail)


async def test_tail_stops_with_2_when_the_server_refuses_the_query(service):
    tail = await start_tail(service.url, "--run", "r" * 300)
    assert await asyncio.wait_for(tail.wait(), LINE_TIMEOUT) == 2


def test_stream_url_takes_the_service_or_the_stream_url():
    assert stream_url("http://h:1", None, None) == "ws://h:1/ws/events/"
    assert stream_url("https://h/tracking/", "r 1", ("e", 7)) == (
        "wss://h/tracking/ws/events/?run_uuid=r+1&epoch=e&since=7")
    assert stream_url("ws://h/ws/events", None, None) == "ws://h/ws/events"


def test_format_line_is_one_readable_line():
    line = format_line({"seq": 3, "ts": "2026-02-24T10:30:00.123Z", "type": "new_event",
                        "data": {"event_uuid": "e", "job_uuid": "j", "event_status": "Failed",
                                 "event_content": "Traceback\n  line 1\n" + "x" * 200}})
    assert "\n" not in line and line.startswith("#3 10:30:00.123 new_event")
    assert len(line) < 160
