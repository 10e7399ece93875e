"""`python -m armada tail`, run as a process against the real service (through a TCP
relay the test can cut): one readable line a message, resume by seq after a reconnect,
resync after a server restart, `--run` narrows, tokens from `--token`, `ARMADA_TOKEN` or
the URL, a refusal's reason printed."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from helpers import RUN, event_body, job_body
from server_process import (
    REPO_ROOT,
    START_TIMEOUT,
    ServiceProcess,
    free_port,
    service_environment,
)

from armada.remote.service import split_token
from armada.remote.tail import format_line, stream_url

LINE_TIMEOUT = 10.0
LINE = re.compile(r"^#(\d+) \d{2}:\d{2}:\d{2}\.\d{3} (\w+) +(.*)$")
READ_TOKEN = "tail-read-token-0123456789"
WRITE_TOKEN = "tail-write-token-0123456789"
WRITER = {"Authorization": f"Bearer {WRITE_TOKEN}"}


class CuttableRelay:
    """A TCP relay on 127.0.0.1 in front of the service: `cut()` drops every connection
    and refuses new ones until `restore()`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.sent = bytearray()  # every byte the clients sent, to see how tail asks

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

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                       record: bytearray) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    record += data
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer, self.sent),
                             pipe(up_reader, writer, bytearray()))
        self._writers -= {writer, up_writer}


class GuardedService(ServiceProcess):
    """The service with read and write tokens. ServiceProcess waits for a 200 from
    GET /api/runs/, which read tokens forbid: this one waits for the open /healthz."""

    def __init__(self, db_path: Path, cwd: Path) -> None:
        super().__init__(db_path, cwd, ARMADA_READ_TOKENS=READ_TOKEN,
                         ARMADA_WRITE_TOKENS=WRITE_TOKEN)

    def _wait_until_answering(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"the service did not answer on {self.url}")


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess(tmp_path / "armada.db", tmp_path)
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def guarded_service(tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    process = GuardedService(tmp_path / "armada.db", tmp_path)
    process.start()
    yield process
    process.stop()


async def start_tail(url: str, *args: str, **env: str) -> asyncio.subprocess.Process:
    """`python -m armada tail --url url *args`, with no ARMADA_ variable but those in `env`."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "armada", "tail", "--url", url, *args, cwd=REPO_ROOT,
        env=service_environment(**env), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def connected(tail: asyncio.subprocess.Process) -> None:
    """Wait for tail's `-- connected` note (on stderr)."""
    assert tail.stderr is not None
    async with asyncio.timeout(LINE_TIMEOUT):
        while not (line := await tail.stderr.readline()).startswith(b"-- connected"):
            assert line, f"tail ended before connecting, with {await tail.wait()}"


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


@pytest.mark.slow
@pytest.mark.external
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


@pytest.mark.slow
@pytest.mark.external
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


@pytest.mark.external
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


async def refused(tail: asyncio.subprocess.Process) -> str:
    """What tail printed on stderr before it stopped, after checking that it stopped with 2."""
    _, stderr = await asyncio.wait_for(tail.communicate(), LINE_TIMEOUT)
    assert tail.returncode == 2, stderr
    return stderr.decode()


async def receives_a_new_run(service: ServiceProcess, tail: asyncio.subprocess.Process) -> None:
    try:
        await connected(tail)
        async with aiohttp.ClientSession(base_url=service.url, headers=WRITER) as session:
            assert (await session.post("/api/runs/", json=RUN)).status == 201
        (_, kind, rest), = await read_lines(tail, 1)
        assert (kind, rest.split()[1]) == ("new_run", "run-1")
    finally:
        await stop(tail)


@pytest.mark.slow
@pytest.mark.external
async def test_tail_stops_with_2_and_the_reason_when_the_server_refuses_the_query(service):
    tail = await start_tail(service.url, "--run", "r" * 300)

    reason = await refused(tail)

    assert "422 validation_error" in reason
    assert '"run_uuid": ["Length must be between 1 and 255."]' in reason


@pytest.mark.external
async def test_tail_token_option_opens_a_stream_that_needs_a_read_token(guarded_service):
    await receives_a_new_run(guarded_service,
                             await start_tail(guarded_service.url, "--token", READ_TOKEN))


@pytest.mark.external
async def test_tail_takes_the_token_from_armada_token(guarded_service):
    await receives_a_new_run(guarded_service,
                             await start_tail(guarded_service.url, ARMADA_TOKEN=READ_TOKEN))


@pytest.mark.external
async def test_tail_keeps_a_token_in_the_url_and_sends_it_as_a_header(guarded_service):
    relay = CuttableRelay(guarded_service.port)
    await relay.restore()
    try:
        url = f"http://127.0.0.1:{relay.port}/?token={READ_TOKEN}"
        await receives_a_new_run(guarded_service, await start_tail(url))
    finally:
        await relay.cut()

    request_line, _, head = bytes(relay.sent).partition(b"\r\n")
    assert request_line == b"GET /ws/events/ HTTP/1.1"
    assert f"\r\nAuthorization: Bearer {READ_TOKEN}\r\n".encode() in head


async def test_tail_with_a_wrong_token_prints_the_servers_reason_and_stops_with_2(
        guarded_service):
    wrong = "wrong-token-0123456789"
    tail = await start_tail(guarded_service.url, "--token", wrong)

    reason = await refused(tail)

    assert "401 unauthorized: the bearer token is not a read or write token" in reason
    assert wrong not in reason


@pytest.mark.slow
async def test_tail_without_a_token_says_the_service_needs_one_and_stops_with_2(
        guarded_service):
    tail = await start_tail(guarded_service.url)

    reason = await refused(tail)

    assert "401 unauthorized: this service needs a bearer token" in reason
    assert "--token" in reason and "ARMADA_TOKEN" in reason


def test_stream_url_takes_the_service_or_the_stream_url():
    assert stream_url("http://h:1", None, None) == "ws://h:1/ws/events/"
    assert stream_url("https://h/tracking/", "r 1", ("e", 7)) == (
        "wss://h/tracking/ws/events/?run_uuid=r+1&epoch=e&since=7")
    assert stream_url("ws://h/ws/events", None, None) == "ws://h/ws/events"


def test_stream_url_keeps_the_urls_query_but_its_token_and_what_tail_sets():
    assert stream_url("http://h/?x=1&token=t&run_uuid=a&since=3", "b", ("e", 7)) == (
        "ws://h/ws/events/?x=1&run_uuid=b&epoch=e&since=7")
    assert stream_url("http://h/?run_uuid=a", None, None) == "ws://h/ws/events/?run_uuid=a"


def test_split_token_takes_the_token_out_of_the_url():
    assert split_token("http://h/tracking/?token=abc&x=1") == ("http://h/tracking/?x=1", "abc")
    assert split_token("http://h/?token=abc") == ("http://h/", "abc")
    assert split_token("http://h/?x=1") == ("http://h/?x=1", None)


def test_format_line_is_one_readable_line():
    line = format_line({"seq": 3, "ts": "2026-02-24T10:30:00.123Z", "type": "new_event",
                        "data": {"event_uuid": "e", "job_uuid": "j", "event_status": "Failed",
                                 "event_content": "Traceback\n  line 1\n" + "x" * 200}})
    assert "\n" not in line and line.startswith("#3 10:30:00.123 new_event")
    assert len(line) < 160
