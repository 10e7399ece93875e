"""A database that does not answer: every 503 and /readyz says why, and the log says so once
per change (down with the cause, up again), not once per failure, with no traceback.

The SQL Server case runs the real service against a closed port (no SQL Server needed);
the transitions run on the real SQLite file; the reasons are checked on the exceptions the
real drivers raise.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytds
import pytest
from helpers import RUN, event_body, job_body
from server_process import START_TIMEOUT, free_port, service_environment

from armada.app import init_app
from armada.config import Config, MssqlSettings, SqliteSettings
from armada.store.availability import Availability
from armada.store.dialects import MssqlDialect, SqliteDialect

# A connection attempt to the closed port lasts this long (pytds retries until then).
DB_TIMEOUT = 0.5
BUSY_TIMEOUT = 0.2
# Log lines besides the one per request: "database down", "serving on", and a margin.
MAX_OTHER_LINES = 5
STORE_LOGGER = "armada.store"  # with its modules' loggers: armada.store.availability, ...


def closed_port() -> int:
    """A port nothing listens on: connecting to it is refused at once."""
    return free_port()


# SQL Server unreachable: the real service as a child process


class UnreachableDatabaseService:
    """`python -m armada serve` with SQL_SERVER_NAME pointing at a closed port."""

    def __init__(self, cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = service_environment(
            SQL_SERVER_NAME=f"127.0.0.1,{closed_port()}", SQL_SERVER_USER="u",
            SQL_SERVER_PASSWORD="p", SQL_SERVER_DB="d", ARMADA_DB_TIMEOUT=str(DB_TIMEOUT),
            ARMADA_PORT=str(self.port), ARMADA_HOST="127.0.0.1", ARMADA_LOG_LEVEL="INFO",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "armada", "serve"], cwd=cwd, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )

    def wait_until_alive(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()[1]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"the service did not listen on {self.url}")

    def stop(self) -> tuple[int, list[str]]:
        """SIGTERM; the exit code and every line the service wrote to stderr."""
        self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=START_TIMEOUT)
        return self.process.returncode, stderr.splitlines()


@pytest.fixture
def unreachable(tmp_path: Path) -> Iterator[UnreachableDatabaseService]:
    service = UnreachableDatabaseService(tmp_path)
    try:
        service.wait_until_alive()
        yield service
    finally:
        if service.process.poll() is None:
            service.process.kill()
            service.process.communicate()


async def ask(http: aiohttp.ClientSession, method: str, path: str,
              body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    async with http.request(method, path, json=body) as response:
        return response.status, await response.json()


@pytest.mark.external
async def test_an_unreachable_sql_server_gives_reasoned_503s_and_a_few_log_lines(
        unreachable: UnreachableDatabaseService):
    requests = [
        ("POST", "/api/runs/", RUN), ("GET", "/api/runs/", None), ("GET", "/readyz", None),
        ("POST", "/api/jobs/", job_body()), ("POST", "/api/events/", event_body()),
        ("PATCH", "/api/jobs/status", {"job_uuid": "job-1", "job_status": "Success"}),
        ("GET", "/api/jobs/", None), ("GET", "/api/events/?job_uuid=job-1", None),
        ("GET", "/readyz", None), ("DELETE", "/api/runs/run-1", None),
    ]
    async with aiohttp.ClientSession(unreachable.url) as http:
        answers = []
        for wave in (requests[:4], requests[4:7], requests[7:]):
            answers += await asyncio.gather(*(ask(http, *request) for request in wave))
            await asyncio.sleep(0.3)

    exit_code, lines = await asyncio.to_thread(unreachable.stop)

    for (method, path, _), (status, body) in zip(requests, answers, strict=True):
        assert status == 503, (method, path, body)
        assert "connection refused" in body["detail"], (method, path, body)
    assert exit_code == 0
    assert not [line for line in lines if "Traceback" in line]
    assert not [line for line in lines if "queued writes not confirmed" in line]
    down = [line for line in lines if "database down" in line]
    assert len(down) == 1 and "connection refused" in down[0], lines
    requests_logged = [line for line in lines if " armada.access: " in line]
    # The probes are logged at DEBUG.
    assert len(requests_logged) == len(requests) - 2, lines
    others = [line for line in lines if line not in requests_logged]
    assert len(others) <= MAX_OTHER_LINES, others


# Down, then up again: SQLite


@pytest.fixture
def store_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger=STORE_LOGGER)
    return caplog


def store_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name.startswith(STORE_LOGGER)]


async def test_a_lock_that_only_writes_hit_is_announced_once_not_at_every_read_between(
        aiohttp_client: Any, sqlite_path: Path, store_log: pytest.LogCaptureFixture):
    client = await aiohttp_client(init_app(Config(
        database=SqliteSettings(path=sqlite_path), db_timeout=BUSY_TIMEOUT)))
    locker = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        for n in range(4):
            response = await client.post("/api/runs/", json={**RUN, "run_uuid": f"run-{n}"})
            assert response.status == 503
            assert (await response.json())["detail"] == "database unavailable: database is locked"
            assert (await client.get("/api/runs/")).status == 200  # WAL: reads go on
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert (await client.post("/api/runs/", json=RUN)).status == 201

    lines = store_lines(store_log)
    assert len(lines) == 2, lines
    assert "database down" in lines[0] and ": database is locked;" in lines[0]
    assert "database up again" in lines[1]


def test_a_database_that_stays_down_is_recalled_once_per_interval_with_the_failures(
        store_log: pytest.LogCaptureFixture):
    availability = Availability("SQLite test.db", remind_every=0.2)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        availability.failed("connection refused")
        time.sleep(0.01)
    availability.failed("login failed")
    availability.answered(wrote=True)
    availability.answered(wrote=True)

    records = store_lines(store_log)
    assert records[0].startswith("database down (SQLite test.db): connection refused")
    reminders = records[1:-2]
    assert 1 <= len(reminders) <= 3, records
    assert all(line.startswith("database still down after ") and "operations failed" in line
               for line in reminders)
    assert records[-2] == "database still down (SQLite test.db), now: login failed"
    assert records[-1].startswith("database up again after ")


# The reasons, from the exceptions the drivers really raise


def mssql_dialect(port: int) -> MssqlDialect:
    settings = MssqlSettings(server="127.0.0.1", port=port, user="u", password="p",
                             database="d")
    return MssqlDialect(settings, DB_TIMEOUT)


def connect_error(dialect: MssqlDialect) -> Exception:
    with pytest.raises(Exception) as raised:
        dialect.connect()
    return raised.value


def test_pytds_giving_up_on_a_refused_connection_reads_connection_refused():
    dialect = mssql_dialect(closed_port())
    error = connect_error(dialect)

    assert type(error) is TimeoutError  # what pytds raises; the refusal is underneath
    assert dialect.is_unavailable(error)
    assert dialect.unavailable_reason(error) == "connection refused"


def test_pytds_giving_up_on_a_server_that_never_answers_reads_timed_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            listener.settimeout(0.1)
            while not stop.is_set():
                try:
                    accepted.append(listener.accept()[0])
                except TimeoutError:
                    pass

        acceptor = threading.Thread(target=accept)
        acceptor.start()
        try:
            dialect = mssql_dialect(listener.getsockname()[1])
            error = connect_error(dialect)
        finally:
            stop.set()
            acceptor.join()
            for connection in accepted:
                connection.close()

    assert dialect.is_unavailable(error)
    assert dialect.unavailable_reason(error) == "timed out"


def server_error(cls: type[pytds.Error], number: int, text: str) -> pytds.Error:
    """A server's error message as pytds raises it (tds_base.create_exception_by_message)."""
    error = cls(text)
    error.msg_no = number
    return error


@pytest.mark.parametrize(("error", "reason"), [
    (server_error(pytds.OperationalError, 18456, "Login failed for user 'u'."), "login failed"),
    (server_error(pytds.OperationalError, 4060, 'Cannot open database "d" requested by the '
                  "login. The login failed."), "database missing or unavailable"),
    (pytds.ClosedConnectionError(), "connection lost (closed by the server)"),
    (ConnectionResetError(104, "Connection reset by peer"), "connection lost"),
    (socket.gaierror(-2, "Name or service not known"),
     "host not found (Name or service not known)"),
], ids=["login-failed", "database-missing", "closed-by-server", "reset", "unknown-host"])
def test_sql_server_failures_read_as_what_they_are(error: Exception, reason: str):
    dialect = mssql_dialect(1433)

    assert dialect.is_unavailable(error)
    assert dialect.unavailable_reason(error) == reason


def test_a_database_missing_after_pytds_retried_reads_as_missing_not_as_a_timeout():
    try:
        try:
            raise server_error(pytds.OperationalError, 4060, "Cannot open database")
        except pytds.OperationalError as error:
            raise TimeoutError() from error  # as pytds's exponential_backoff gives up
    except TimeoutError as error:
        assert mssql_dialect(1433).unavailable_reason(error) == "database missing or unavailable"


@pytest.mark.parametrize(("message", "reason"), [
    ("unable to open database file", "unable to open database file"),
    ("database is locked", "database is locked"),
    ("disk I/O error", "disk I/O error"),
])
def test_sqlite_failures_read_in_sqlites_words(tmp_path: Path, message: str, reason: str):
    dialect = SqliteDialect(SqliteSettings(path=tmp_path / "armada.db"), BUSY_TIMEOUT)
    error = sqlite3.OperationalError(message)

    assert dialect.is_unavailable(error)
    assert dialect.unavailable_reason(error) == reason


# A full disk: reads go on, writes fail


SEARCH_INDEX_LOGGER = "armada.search_index"


@pytest.fixture
def small_file_system(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of 2 MiB mounted for the test (root only), unmounted after it."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Take every free byte of the file system that holds `folder`."""
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(descriptor, b"\0" * 4096):
            pass
    except OSError as error:
        assert error.errno == errno.ENOSPC, error
    finally:
        os.close(descriptor)
    return filler


def queued_events(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT COUNT(*) FROM armada_search_queue").fetchone()[0]
    finally:
        connection.close()


async def test_a_full_disk_keeps_readyz_503_and_the_log_down_while_reads_succeed(
        aiohttp_client: Any, small_file_system: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger=STORE_LOGGER)
    caplog.set_level(logging.DEBUG, logger=SEARCH_INDEX_LOGGER)  # the handler's level: last
    path = small_file_system / "armada.db"
    client = await aiohttp_client(init_app(Config(database=SqliteSettings(path=path),
                                                  db_timeout=BUSY_TIMEOUT)))
    assert (await client.post("/api/jobs/", json=job_body("job-1", "run-1"))).status == 201
    # The disk fills with events queued for the search index (its task runs every 0.5 s):
    # checked and filled with no await between, so that the task cannot take them meanwhile.
    for n in range(20):
        body = event_body(f"queued-{n}", "job-1", event_content="x" * 1000)
        assert (await client.post("/api/events/", json=body)).status == 201
        if queued_events(path):
            filler = fill(small_file_system)
            break
    else:
        pytest.fail("the search index took every event before the disk could be filled")

    writes, probes, reads = [], [], []
    outage_ends = time.monotonic() + 2.0  # four turns of the search index's task
    n = 0
    while time.monotonic() < outage_ends:
        n += 1
        body = event_body(f"full-{n}", "job-1", event_content="y" * 20_000)
        writes.append(await client.post("/api/events/", json=body))
        probes.append(await client.get("/readyz"))
        reads.append(await client.get("/api/events/?job_uuid=job-1&limit=5"))
        await asyncio.sleep(0.1)
    lines_while_full = store_lines(caplog)
    index_tries = [record for record in caplog.records if record.name == SEARCH_INDEX_LOGGER]

    filler.unlink()
    after = await client.post("/api/events/", json=event_body("after", "job-1"))
    ready_after = await client.get("/readyz")

    assert [response.status for response in writes] == [503] * len(writes)
    assert all(response.status == 200 for response in reads)
    assert [response.status for response in probes] == [503] * len(probes)
    detail = (await probes[-1].json())["detail"]
    assert "writes fail" in detail and "database or disk is full" in detail, detail
    assert len(lines_while_full) == 1, lines_while_full
    assert lines_while_full[0].startswith("database down (SQLite ")
    assert "database or disk is full" in lines_while_full[0]
    # The search index's task kept trying, and said so in no line of its own.
    assert index_tries and all(record.levelno < logging.WARNING for record in index_tries)
    assert after.status == 201
    assert ready_after.status == 200
    assert store_lines(caplog)[-1].startswith("database up again after ")
@pytest.mark.parametrize("statement", [
    "SELECT * FROM armada_events_search WHERE armada_events_search MATCH '\"abc'",
    "SELECT * FROM no_such_table",
    "SELEC 1",
])
def test_a_statement_sqlite_refuses_is_not_a_database_outage(tmp_path: Path, statement: str):
    dialect = SqliteDialect(SqliteSettings(path=tmp_path / "armada.db"), BUSY_TIMEOUT)
    connection = dialect.connect()
    connection.execute("CREATE VIRTUAL TABLE armada_events_search USING fts5(event_content)")
    with pytest.raises(sqlite3.OperationalError) as refused:
        connection.execute(statement)
    connection.close()

    assert not dialect.is_unavailable(refused.value)
