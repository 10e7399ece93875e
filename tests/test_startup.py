"""Starting the real process: an address it cannot listen on is one line on stderr and exit 2,
like a configuration error, and "serving on" is logged only once the port accepts connections."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_server import RedisServer
from server_process import (
    START_TIMEOUT,
    ServiceProcess,
    free_port,
    run_service,
    service_environment,
)

from armada.config import ConfigError, load_config


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.external
def test_a_busy_port_exits_2_with_one_line_naming_the_address_and_opens_nothing(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run_service(tmp_path, ARMADA_HOST="127.0.0.1", ARMADA_PORT=str(port),
                             ARMADA_DB_PATH=str(tmp_path / "armada.db"), ARMADA_LOG_LEVEL="INFO")

    line = one_line(result)
    assert line == f"armada: cannot listen on 127.0.0.1:{port}: address already in use"
    assert "serving on" not in result.stderr
    assert not (tmp_path / "armada.db").exists()


@pytest.mark.external
def test_an_address_that_is_not_an_ip_address_exits_2_with_one_line_naming_armada_host(
        tmp_path: Path):
    result = run_service(tmp_path, ARMADA_HOST="999.1.1.1",
                         ARMADA_DB_PATH=str(tmp_path / "armada.db"))

    line = one_line(result)
    assert line.startswith("armada: configuration error: ARMADA_HOST: ")
    assert "999.1.1.1" in line


@pytest.mark.external
def test_a_host_name_that_does_not_resolve_exits_2_with_one_line_naming_it(tmp_path: Path):
    port = free_port()
    # .invalid never resolves (RFC 6761).
    result = run_service(tmp_path, ARMADA_HOST="armada.invalid", ARMADA_PORT=str(port),
                         ARMADA_DB_PATH=str(tmp_path / "armada.db"))

    line = one_line(result)
    assert line.startswith(f"armada: cannot listen on armada.invalid:{port}: host name not found")


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::", "::1", "localhost",
                                  "tracking-1.example.com", "db1"])
def test_armada_host_takes_an_ip_address_or_a_host_name(host: str):
    assert load_config({"ARMADA_HOST": host}).host == host


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3", "10.0.0.256", "a..b", "-host",
                                  "host-", "under_score", "host name", "a" * 64 + ".example",
                                  "[::1]"])
def test_armada_host_refuses_what_is_neither_an_ip_address_nor_a_host_name(host: str):
    with pytest.raises(ConfigError) as caught:
        load_config({"ARMADA_HOST": host})

    assert caught.value.variable == "ARMADA_HOST"


@contextlib.contextmanager
def serving(tmp_path: Path, port: int, **variables: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m armada serve` on 127.0.0.1:`port` (logging at INFO), its stderr a pipe;
    killed at the end if it has not exited."""
    env = service_environment(**{"ARMADA_HOST": "127.0.0.1", "ARMADA_PORT": str(port),
                                 "ARMADA_DB_PATH": str(tmp_path / "armada.db"),
                                 "ARMADA_LOG_LEVEL": "INFO", **variables})
    process = subprocess.Popen([sys.executable, "-m", "armada", "serve"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()


@pytest.mark.external
def test_serving_on_is_logged_once_the_port_accepts_connections(tmp_path: Path):
    port = free_port()
    with serving(tmp_path, port) as process:
        line = line_containing(process, "serving on")
        # Right away, no retry: the line promises that the socket is listening.
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass

        assert f"serving on http://127.0.0.1:{port}" in line
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=START_TIMEOUT) == 0


@pytest.mark.external
def test_the_start_line_names_the_database_file_in_full_and_the_tokens_and_stopping_is_logged(
        tmp_path: Path):
    port = free_port()
    with serving(tmp_path, port, ARMADA_DB_PATH="armada.db",
                 ARMADA_WRITE_TOKENS="write-token-never-logged") as process:
        line = line_containing(process, "serving on")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=START_TIMEOUT) == 0
        assert process.stderr is not None
        after = process.stderr.read().decode()

    assert f", SQLite at {tmp_path / 'armada.db'}, tokens required for writes, reads open, " \
        in line, line
    stopping = after.splitlines()
    assert stopping[0].endswith(" INFO armada: SIGTERM received: shutting down (requests in "
                                "flight get up to 60 s)"), after
    assert stopping[-1].endswith(" INFO armada: stopped"), after
    assert "write-token-never-logged" not in line + after


def line_containing(process: subprocess.Popen[bytes], text: str) -> str:
    """The first line on the process's stderr that contains `text` (read from the pipe as it
    comes, so that the wait has a deadline)."""
    assert process.stderr is not None
    descriptor = process.stderr.fileno()
    received = ""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not select.select([descriptor], [], [], 0.1)[0]:
            continue
        chunk = os.read(descriptor, 65536)
        if not chunk:
            raise AssertionError(f"exited with {process.wait()} before {text!r}: {received}")
        received += chunk.decode()
        complete = received.rpartition("\n")[0].splitlines()
        if found := [line for line in complete if text in line]:
            return found[0]
    raise AssertionError(f"no line with {text!r} within {START_TIMEOUT}s: {received}")


@pytest.mark.external
@pytest.mark.parametrize(("choice", "expected"), [("", "uvloop"), ("asyncio", "asyncio"),
                                                  ("uvloop", "uvloop")])
def test_the_service_serves_on_uvloop_unless_asyncio_is_asked_for(tmp_path: Path, choice: str,
                                                                  expected: str):
    port = free_port()
    with serving(tmp_path, port, ARMADA_EVENT_LOOP=choice) as process:
        line = line_containing(process, "serving on")
        # A write and its broadcast go through the chosen loop's sockets and threads.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            body = b'{"run_uuid": "loop-run", "run_datetime": "2026-02-24T10:30:00.000"}'
            sock.sendall(b"POST /api/runs/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            answer = b"".join(iter(lambda: sock.recv(65536), b""))

        assert line.endswith(f"event loop {expected}"), line
        assert answer.startswith(b"HTTP/1.1 201 "), answer[:200]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=START_TIMEOUT) == 0


@pytest.mark.external
def test_uvloop_asked_for_where_it_does_not_import_exits_2_with_one_line(tmp_path: Path):
    # A module named uvloop that fails to import stands for a host where it is not installed.
    (tmp_path / "uvloop.py").write_text("raise ImportError('no uvloop on this host')\n")
    env = service_environment(ARMADA_EVENT_LOOP="uvloop",
                              ARMADA_DB_PATH=str(tmp_path / "armada.db"))
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-m", "armada", "serve"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=START_TIMEOUT)

    assert one_line(result) == "armada: ARMADA_EVENT_LOOP=uvloop: no uvloop on this host"
    assert not (tmp_path / "armada.db").exists()


def test_armada_event_loop_refuses_other_names():
    with pytest.raises(ConfigError) as caught:
        load_config({"ARMADA_EVENT_LOOP": "tokio"})

    assert caught.value.variable == "ARMADA_EVENT_LOOP"


# A database the start cannot use: one line naming ARMADA_DB_PATH, exit 2


@pytest.mark.external
def test_a_file_that_is_not_sqlite_exits_2_with_one_line_naming_armada_db_path(tmp_path: Path):
    database = tmp_path / "notes.txt"
    database.write_text("these are notes, not a database\n" * 100)

    result = run_service(tmp_path, ARMADA_DB_PATH=str(database), ARMADA_PORT=str(free_port()))

    assert one_line(result) == (f"armada: configuration error: ARMADA_DB_PATH: {database}: "
                                "file is not a database")
    assert database.read_text() == "these are notes, not a database\n" * 100


@pytest.mark.external
@pytest.mark.parametrize("where", ["/proc/a.db", "link into /proc"])
def test_a_path_that_can_never_be_opened_exits_2_with_one_line_naming_armada_db_path(
        tmp_path: Path, where: str):
    # /proc takes no new file; a link into it passes every check but SQLite's own open.
    database = Path("/proc/a.db")
    if where != "/proc/a.db":
        database = tmp_path / "armada.db"
        database.symlink_to("/proc/no-such-folder/armada.db")

    result = run_service(tmp_path, ARMADA_DB_PATH=str(database), ARMADA_PORT=str(free_port()))

    line = one_line(result)
    assert line.startswith("armada: configuration error: ARMADA_DB_PATH: ")
    assert str(database) in line
    assert "serving on" not in result.stderr and "database down" not in result.stderr


# One instance per SQLite file, unless they share their changes through Redis


@pytest.mark.slow
@pytest.mark.external
def test_a_second_instance_on_one_sqlite_file_exits_2_with_one_line(tmp_path: Path):
    first = ServiceProcess(tmp_path / "armada.db", tmp_path)
    first.start()
    try:
        second = run_service(tmp_path, ARMADA_DB_PATH=str(tmp_path / "armada.db"),
                             ARMADA_PORT=str(free_port()))
    finally:
        first.stop()

    line = one_line(second)
    assert line.startswith(f"armada: {tmp_path / 'armada.db'} is in use by another armada "
                           "serve")
    assert "ARMADA_REDIS_URL" in line


@pytest.mark.slow
@pytest.mark.external
def test_the_file_is_free_again_once_its_instance_is_killed(tmp_path: Path):
    first = ServiceProcess(tmp_path / "armada.db", tmp_path)
    first.start()
    first.kill()
    second = ServiceProcess(tmp_path / "armada.db", tmp_path)

    second.start()  # raises if it exits
    second.stop()


@pytest.mark.slow
@pytest.mark.external
def test_instances_that_share_their_changes_through_redis_share_one_sqlite_file(
        tmp_path: Path):
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    with_redis = [ServiceProcess(tmp_path / "armada.db", tmp_path, ARMADA_REDIS_URL=redis.url)
                  for _ in range(2)]
    try:
        for service in with_redis:
            service.start()
        # One without Redis would miss the others' changes: refused while they run.
        alone = run_service(tmp_path, ARMADA_DB_PATH=str(tmp_path / "armada.db"),
                            ARMADA_PORT=str(free_port()))
    finally:
        for service in with_redis:
            service.stop()
        redis.stop()

    assert "is in use by another armada serve" in one_line(alone)
