"""A COMMIT whose outcome is unknown (the connection broke under it): its writes are
answered 503, every subscriber gets `resync` with reason `commit_unknown` (through Redis
too, and in replays), and the agents' retries find the rows.

On SQLite the fault is injected in the dialect: its COMMIT really commits, then raises what
a broken connection raises. Against a real SQL Server (opt-in, ARMADA_TEST_MSSQL) a TCP
proxy between pytds and the server lets the COMMIT through and cuts the connection before
its answer comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytds
import pytest
from aiohttp.test_utils import TestClient
from helpers import RUN, job_body, next_envelope, no_message
from pytds import tds_base
from pytds.tds_session import _TdsSession
from redis_server import RedisServer
from server_process import free_port

from armada.app import init_app
from armada.config import Config, MssqlSettings, SqliteSettings
from armada.keys import store_key
from armada.store import Store
from armada.store.dialects import MssqlDialect, SqliteDialect

COMMIT_UNKNOWN = {"reason": "commit_unknown", "since": None}
BUSY_TIMEOUT = 0.2


class CommitThenCut(SqliteDialect):
    """SQLite whose next write COMMIT, once armed, commits and then fails as if the
    connection had broken before the answer came back."""

    def __init__(self, settings: SqliteSettings, timeout: float) -> None:
        super().__init__(settings, timeout)
        self.armed = threading.Event()
        self._writing = threading.local()

    def begin(self, connection: sqlite3.Connection, write: bool,
              wait: float | None = None) -> None:
        self._writing.now = write
        super().begin(connection, write, wait)

    def commit(self, connection: sqlite3.Connection) -> None:
        super().commit(connection)
        if getattr(self._writing, "now", False) and self.armed.is_set():
            self.armed.clear()
            raise ConnectionResetError(104, "Connection reset by peer")


async def start_app(aiohttp_client: Any, config: Config, dialect: SqliteDialect | None = None
                    ) -> TestClient:
    app = init_app(config)
    if dialect is not None:
        app[store_key] = Store(config, dialect)
    return await aiohttp_client(app)


def job_rows(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [uuid for (uuid,) in db.execute("SELECT job_uuid FROM armada_jobs")]


@pytest.fixture
def cut(sqlite_path: Path) -> CommitThenCut:
    return CommitThenCut(SqliteSettings(path=sqlite_path), BUSY_TIMEOUT)


async def test_a_commit_cut_after_committing_answers_503_and_resyncs_every_subscriber(
        aiohttp_client: Any, sqlite_path: Path, cut: CommitThenCut):
    client = await start_app(aiohttp_client, Config(database=SqliteSettings(path=sqlite_path)),
                             cut)
    everything = await client.ws_connect("/ws/events/")
    other_run = await client.ws_connect("/ws/events/", params={"run_uuid": "run-2"})
    assert (await client.post("/api/runs/", json=RUN)).status == 201
    new_run = await next_envelope(everything)

    cut.armed.set()
    response = await client.post("/api/jobs/", json=job_body())

    assert response.status == 503
    body = await response.json()
    assert body["error"] == "database_unavailable"
    assert "connection lost during COMMIT" in body["detail"]
    for ws in (everything, other_run):
        resync = await next_envelope(ws)
        assert (resync["type"], resync["data"]) == ("resync", COMMIT_UNKNOWN)
        assert (resync["epoch"], resync["seq"]) == (new_run["epoch"], new_run["seq"] + 1)

    retry = await client.post("/api/jobs/", json=job_body())
    assert retry.status == 200  # it was committed: the agent's retry finds it
    assert job_rows(sqlite_path) == ["job-1"]
    await no_message(everything)  # nothing new: only the resync told of the job

    resumed = await client.ws_connect("/ws/events/", params={
        "since": str(new_run["seq"]), "epoch": new_run["epoch"]})
    replayed = await next_envelope(resumed)
    assert (replayed["type"], replayed["data"]) == ("resync", COMMIT_UNKNOWN)
    for ws in (everything, other_run, resumed):
        await ws.close()


async def test_a_write_that_fails_before_its_commit_sends_no_resync(
        aiohttp_client: Any, sqlite_path: Path, cut: CommitThenCut):
    config = Config(database=SqliteSettings(path=sqlite_path), db_timeout=BUSY_TIMEOUT)
    client = await start_app(aiohttp_client, config, cut)
    ws = await client.ws_connect("/ws/events/")
    locker = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        assert (await client.post("/api/runs/", json=RUN)).status == 503
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    await no_message(ws)  # nothing was committed: nothing to resync
    assert (await client.post("/api/runs/", json=RUN)).status == 201
    assert (await next_envelope(ws))["type"] == "new_run"
    await ws.close()


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


@pytest.mark.external
async def test_with_redis_every_replicas_subscribers_get_the_commit_unknown_resync(
        redis_server: RedisServer, aiohttp_client: Any, sqlite_path: Path, cut: CommitThenCut):
    config = Config(database=SqliteSettings(path=sqlite_path), redis_url=redis_server.url)
    a = await start_app(aiohttp_client, config, cut)
    b = await start_app(aiohttp_client, config)
    on_b = await b.ws_connect("/ws/events/")
    assert (await a.post("/api/runs/", json=RUN)).status == 201
    new_run = await next_envelope(on_b)

    cut.armed.set()
    assert (await a.post("/api/jobs/", json=job_body())).status == 503

    resync = await next_envelope(on_b)
    assert (resync["type"], resync["data"]) == ("resync", COMMIT_UNKNOWN)
    assert (resync["epoch"], resync["seq"]) == (new_run["epoch"], new_run["seq"] + 1)
    assert (await b.post("/api/jobs/", json=job_body())).status == 200
    await on_b.close()


def server_error(number: int, text: str) -> pytds.Error:
    """A server's error message as pytds raises it (tds_base.create_exception_by_message)."""
    error = pytds.OperationalError(text)
    error.msg_no = number
    return error


@pytest.mark.parametrize(("error", "unknown"), [
    (pytds.ClosedConnectionError(), True),
    (ConnectionResetError(104, "Connection reset by peer"), True),
    (BrokenPipeError(32, "Broken pipe"), True),
    (TimeoutError("timed out"), True),
    (server_error(10054, "A transport-level error has occurred"), True),
    (server_error(1205, "Transaction was deadlocked"), False),
    (server_error(3902, "The COMMIT TRANSACTION request has no corresponding BEGIN"), False),
], ids=["closed-by-server", "reset", "broken-pipe", "timeout", "transport-10054", "deadlock",
        "no-transaction"])
def test_on_sql_server_only_a_broken_connection_leaves_a_commit_unknown(
        error: Exception, unknown: bool):
    settings = MssqlSettings(server="127.0.0.1", port=1433, user="u", password="p",
                             database="d")
    assert MssqlDialect(settings, BUSY_TIMEOUT).outcome_unknown(error) is unknown


@pytest.mark.parametrize(("error", "unknown"), [
    (sqlite3.OperationalError("disk I/O error"), True),
    (ConnectionResetError(104, "Connection reset by peer"), True),
    (sqlite3.OperationalError("database is locked"), False),
    (sqlite3.IntegrityError("UNIQUE constraint failed: armada_runs.run_uuid"), False),
], ids=["io-error", "reset", "locked", "constraint"])
def test_on_sqlite_only_a_failed_write_to_disk_leaves_a_commit_unknown(
        sqlite_path: Path, error: Exception, unknown: bool):
    dialect = SqliteDialect(SqliteSettings(path=sqlite_path), BUSY_TIMEOUT)
    assert dialect.outcome_unknown(error) is unknown


# Against a real SQL Server: the connection cut at COMMIT by a TCP proxy


TDS_HEADER = 8
TDS_TRANSACTION_MANAGER = 0x0E
TM_COMMIT_XACT = 7


class CommitCuttingProxy:
    """Passes TDS between pytds and SQL Server; once armed, lets the next COMMIT request
    (a transaction manager packet asking TM_COMMIT_XACT) of a transaction that wrote to
    `armada_jobs` reach the server, drops the server's answer and closes both connections
    (the service's background transactions, such as its polls, commit too)."""

    WRITES = "INSERT INTO armada_jobs".encode("utf-16-le")  # SQL text travels as UTF-16

    def __init__(self, server: str, port: int) -> None:
        self.target = (server, port)
        self.port = free_port()
        self.armed = False
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):  # the store's connections are still open
                writer.transport.abort()
            await self._server.wait_closed()

    async def _serve(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self.target)
        self._open |= {client_writer, server_writer}
        committing = asyncio.Event()
        pumps = [asyncio.create_task(self._requests(client_reader, server_writer, committing)),
                 asyncio.create_task(self._answers(server_reader, client_writer, committing))]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for writer in (client_writer, server_writer):
                writer.transport.abort()
                self._open.discard(writer)

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        committing: asyncio.Event) -> None:
        wrote = False
        while True:
            header = await reader.readexactly(TDS_HEADER)
            packet = header + await reader.readexactly(
                int.from_bytes(header[2:4], "big") - TDS_HEADER)
            wrote = wrote or (self.armed and self.WRITES in packet)
            if self.armed and wrote and _is_commit(packet):
                self.armed = False
                committing.set()
            writer.write(packet)
            await writer.drain()

    async def _answers(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       committing: asyncio.Event) -> None:
        while data := await reader.read(65536):
            if committing.is_set():
                self.cuts += 1
                return  # the COMMIT was done; its answer never reaches the client
            writer.write(data)
            await writer.drain()


def _is_commit(packet: bytes) -> bool:
    if packet[0] != TDS_TRANSACTION_MANAGER:
        return False
    payload = packet[TDS_HEADER:]
    headers_length = int.from_bytes(payload[0:4], "little")  # ALL_HEADERS comes first
    return int.from_bytes(payload[headers_length:headers_length + 2], "little") == TM_COMMIT_XACT


def pytds_requests() -> dict[str, bytes]:
    """The bytes pytds itself sends to COMMIT and to ROLLBACK (its own code writing them,
    into a list instead of a socket): what the proxy must tell apart."""
    sent: list[bytes] = []
    transport = SimpleNamespace(sendall=lambda data, flags=0: sent.append(bytes(data)))
    tds = SimpleNamespace(use_tz=None, tds_version=tds_base.TDS74, tds72_transaction=1)
    env = SimpleNamespace(autocommit=False, isolation_level=0)
    session = _TdsSession(tds=tds, transport=transport, tzinfo_factory=None, env=env,
                          bufsize=4096)
    session.submit_commit(cont=True)
    session.state = tds_base.TDS_IDLE  # as if its answer had been read
    session.submit_rollback(cont=True)
    commit, rollback = sent
    return {"commit": commit, "rollback": rollback}


async def test_the_proxy_passes_everything_until_armed_then_cuts_the_answer_to_a_commit():
    reached_server: list[bytes] = []

    async def answer_each_packet(reader: asyncio.StreamReader,
                                 writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                header = await reader.readexactly(TDS_HEADER)
                packet = header + await reader.readexactly(
                    int.from_bytes(header[2:4], "big") - TDS_HEADER)
                reached_server.append(packet)
                writer.write(b"done")
                await writer.drain()

    server = await asyncio.start_server(answer_each_packet, "127.0.0.1", 0)
    proxy = CommitCuttingProxy("127.0.0.1", server.sockets[0].getsockname()[1])
    await proxy.start()
    requests = pytds_requests()
    text = "INSERT INTO armada_jobs (job_uuid) VALUES (N'job-1')".encode("utf-16-le")
    # A SQL batch packet (type 1, last of its message), as the job's insert travels.
    insert = bytes([1, 1]) + (TDS_HEADER + len(text)).to_bytes(2, "big") + bytes(4) + text
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        for name in ("commit", "rollback"):
            writer.write(requests[name])
            assert await reader.readexactly(4) == b"done"  # not armed: all passes
        proxy.armed = True
        for name in ("rollback", "commit"):  # armed, but no job written: as a poll's
            writer.write(requests[name])
            assert await reader.readexactly(4) == b"done"
        writer.write(insert)
        assert await reader.readexactly(4) == b"done"
        writer.write(requests["commit"])
        with contextlib.suppress(ConnectionError):
            assert await reader.read() == b""  # closed: the answer never came back
        writer.close()
    finally:
        await proxy.close()
        server.close()

    assert reached_server == [*(requests[n] for n in ("commit", "rollback", "rollback",
                                                      "commit")), insert, requests["commit"]]
    assert proxy.cuts == 1


@pytest.mark.skipif(not os.environ.get("ARMADA_TEST_MSSQL"),
                    reason="set ARMADA_TEST_MSSQL to run against SQL Server")
@pytest.mark.parametrize("database", ["mssql"], indirect=True)  # conftest: emptied tables
async def test_on_sql_server_a_connection_cut_at_commit_resyncs_and_the_retry_finds_the_row(
        aiohttp_client: Any, database: MssqlSettings):
    settings = database
    proxy = CommitCuttingProxy(settings.server, settings.port)
    await proxy.start()
    try:
        through_proxy = MssqlSettings(server="127.0.0.1", port=proxy.port, user=settings.user,
                                      password=settings.password, database=settings.database)
        client = await start_app(aiohttp_client, Config(database=through_proxy, db_timeout=5))
        ws = await client.ws_connect("/ws/events/")
        assert (await client.post("/api/runs/", json=RUN)).status == 201
        assert (await next_envelope(ws))["type"] == "new_run"

        proxy.armed = True
        response = await client.post("/api/jobs/", json=job_body())

        assert response.status == 503, await response.text()
        assert proxy.cuts == 1
        resync = await next_envelope(ws)
        assert (resync["type"], resync["data"]) == ("resync", COMMIT_UNKNOWN)
        assert (await client.post("/api/jobs/", json=job_body())).status == 200
        jobs = await (await client.get("/api/jobs/", params={"run_uuid": "run-1"})).json()
        assert [job["job_uuid"] for job in jobs["jobs"]] == ["job-1"]
        await ws.close()
    finally:
        await proxy.close()
