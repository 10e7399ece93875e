"""The agents' client (client/, the `armada-client` distribution) against the real service
process: calls return at once, a background sender batches the events, and an outage, a
`kill -9` or a lost answer loses and doubles nothing.

Requests are counted, and answers lost or replaced, by a small TCP proxy in front of the
service (`FlakyProxy`), not by mocks: the client speaks real HTTP to a real server.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import multiprocessing
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from armada_client import (
    ArmadaMonitoringClient,
    AsyncMonitoringClient,
    ConflictError,
    MonitoringClient,
    NotFoundError,
    RequestRejected,
    ServiceUnavailable,
    backoff_delay,
    retry_after_seconds,
)
from armada_client import sender as client_sender
from hypothesis import given
from hypothesis import strategies as st
from server_process import REPO_ROOT, ServiceProcess

from armada import const

FAST = {"base_delay": 0.02, "max_delay": 0.2}
# Batches leave on the ticks of UTC time: with a tick an hour, one almost never falls within
# a test, so a batch leaves at flush().
UNTIL_FLUSH = 3600.0
WRITE_TOKEN = "agent-write-token-0123456789"
PROXY_TIMEOUT = 10.0
SETTLE_SECONDS = 30.0
AGENTS = 20
OUTAGE_SECONDS = 3.0
# Each agent's calls while the service is down, its restart included: together far below
# the queue bound the agents of a process share (MAX_QUEUE), however slow the restart.
CALLS_IN_OUTAGE = 250
# A call only queues: on a loaded 2-core host, a thread may still wait this long for the GIL.
CALL_LIMIT_SECONDS = 0.05
KILL_AGENTS = 4
KILL_EVENTS = 1500
KILL_AFTER_STORED = 1000


class FlakyProxy:
    """Forwards each request to the service over a connection of its own, kept alive as the
    client keeps it.

    Records every request (its line, body and wall-clock arrival); `lose_answer(prefix)`
    forwards the next matching request but closes the connection instead of passing the
    answer back; `answer_instead(prefix, raw)` answers the next matching request itself,
    unforwarded.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.requests: list[tuple[str, bytes]] = []
        self.arrivals: list[tuple[str, float]] = []  # (line, time.time()) per request
        self._lose: list[str] = []
        self._fake: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_answer(self, prefix: str) -> None:
        with self._lock:
            self._lose.append(prefix)

    def answer_instead(self, prefix: str, raw: bytes) -> None:
        with self._lock:
            self._fake.append((prefix, raw))

    def requests_to(self, prefix: str) -> list[bytes]:
        """The bodies of the requests whose line starts with `prefix`."""
        with self._lock:
            return [body for line, body in self.requests if line.startswith(prefix)]

    def arrived(self, prefix: str) -> list[float]:
        """When the requests whose line starts with `prefix` arrived (time.time())."""
        with self._lock:
            return [at for line, at in self.arrivals if line.startswith(prefix)]

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _take(self, queue: list[Any], line: str, key: Any) -> Any:
        with self._lock:
            for index, item in enumerate(queue):
                if line.startswith(key(item)):
                    return queue.pop(index)
        return None

    def _serve(self, connection: socket.socket) -> None:
        upstream: socket.socket | None = None
        with connection:
            connection.settimeout(PROXY_TIMEOUT)
            while True:
                head, body = read_message(connection)
                if not head:
                    break
                line = head.split(b"\r\n", 1)[0].decode()
                with self._lock:
                    self.requests.append((line, body))
                    self.arrivals.append((line, time.time()))
                fake = self._take(self._fake, line, key=lambda item: item[0])
                if fake is not None:
                    connection.sendall(fake[1])
                    break
                if upstream is None:
                    upstream = socket.create_connection(("127.0.0.1", self.upstream_port),
                                                        timeout=PROXY_TIMEOUT)
                upstream.sendall(head + body)
                answer_head, answer_body = read_message(upstream)
                if self._take(self._lose, line, key=lambda prefix: prefix) is not None:
                    break  # committed upstream; the client sees the connection close
                connection.sendall(answer_head + answer_body)
        if upstream is not None:
            upstream.close()


def read_message(connection: socket.socket) -> tuple[bytes, bytes]:
    """One HTTP message (head with its blank line, body by Content-Length); b"" at the end."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return b"", b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for header in head.split(b"\r\n")[1:]:
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n", body


def get_json(base_url: str, path: str, **params: str) -> Any:
    url = f"{base_url}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def events_of(base_url: str, job_uuid: str) -> list[dict[str, Any]]:
    return get_json(base_url, "/api/events/", job_uuid=job_uuid)


def jobs_of(base_url: str, run_uuid: str) -> list[dict[str, Any]]:
    return get_json(base_url, "/api/jobs/", run_uuid=run_uuid, page_size="100")["jobs"]


def post_json(base_url: str, path: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(f"{base_url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


def stored_in_order(db_path: Path, job_uuid: str) -> list[str]:
    """The contents of a job's events in the order they were inserted (SQLite's rowid)."""
    with closing(sqlite3.connect(db_path)) as db:
        return [content for (content,) in db.execute(
            "SELECT event_content FROM armada_events WHERE job_uuid = ? ORDER BY rowid",
            (job_uuid,))]


def stored_count(db_path: Path) -> int:
    with closing(sqlite3.connect(db_path)) as db:
        return db.execute("SELECT count(*) FROM armada_events").fetchone()[0]


def batch_sizes(bodies: list[bytes]) -> list[int]:
    return [len(json.loads(body)["events"]) for body in bodies]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    root = tmp_path_factory.mktemp("client")
    process = ServiceProcess(root / "armada.db", cwd=root)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def guarded_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The service with ARMADA_WRITE_TOKENS set: writes need the token, reads stay open."""
    root = tmp_path_factory.mktemp("guarded")
    process = ServiceProcess(root / "armada.db", cwd=root, ARMADA_WRITE_TOKENS=WRITE_TOKEN)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def own_service(tmp_path: Path) -> Iterator[ServiceProcess]:
    """A service of this test only, to stop, kill and start again."""
    process = ServiceProcess(tmp_path / "armada.db", cwd=tmp_path)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def proxy(service: ServiceProcess) -> Iterator[FlakyProxy]:
    flaky = FlakyProxy(service.port)
    yield flaky
    flaky.close()


@pytest.fixture
def ids(request: pytest.FixtureRequest) -> tuple[str, str]:
    """A run and a job uuid of this test only: tests share one service."""
    return f"run-{request.node.name}", f"job-{request.node.name}"


@pytest.fixture
def heap_frozen() -> Iterator[None]:
    """The test process's heap out of the collector's reach: with pytest's plugins loaded, a
    full collection holds every thread for 100-200 ms, which is not the client's doing."""
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture
def dormant_service(tmp_path: Path) -> Iterator[ServiceProcess]:
    """A service of this test only, not started: its address refuses connections until the
    test starts it."""
    process = ServiceProcess(tmp_path / "armada.db", cwd=tmp_path)
    yield process
    process.stop()


# The platform's client's methods, through the real service.


@pytest.mark.external
def test_full_sequence_is_visible_through_the_api(service: ServiceProcess, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 3, job_uuid, base_url=service.url, **FAST)

    assert client.create_job() is client
    client.record_success_event("Page loaded").record_success_event("Form submitted")
    client.record_finalsuccess_event("Job completed")
    assert client.flush() is True

    [job] = jobs_of(service.url, run_uuid)
    assert job["job_uuid"] == job_uuid
    assert job["job_associated_agent"] == "3"
    assert job["job_status"] == "Success"
    events = events_of(service.url, job_uuid)
    assert sorted(event["event_content"] for event in events) == [
        "Form submitted", "Job completed", "Page loaded"]
    assert {event["event_status"] for event in events} == {"Success"}
    assert len({event["event_uuid"] for event in events}) == 3
    runs = get_json(service.url, "/api/runs/", page_size="100")["runs"]
    assert run_uuid in {run["run_uuid"] for run in runs}
    assert (client.pending, client.dropped, client.last_error) == (0, 0, None)


@pytest.mark.external
def test_ids_the_client_makes_are_version_7_and_sort_as_they_were_made(
        service: ServiceProcess, ids):
    run_uuid, _ = ids
    before = time.time()
    client = MonitoringClient(run_uuid, 1, base_url=service.url, **FAST).create_job()
    contents = [f"step {number:03d}" for number in range(200)]
    for content in contents:
        client.record_success_event(content)
    assert client.flush() is True
    after = time.time()

    job_id = uuid.UUID(client.job_uuid)
    events = events_of(service.url, client.job_uuid)
    made = [uuid.UUID(event["event_uuid"])
            for event in sorted(events, key=lambda event: event["event_content"])]
    assert len(made) == len(contents)
    for made_id in (job_id, *made):
        assert (made_id.version, made_id.variant) == (7, uuid.RFC_4122)
        assert before - 0.001 <= (made_id.int >> 80) / 1000 <= after
    assert [str(event_id) for event_id in made] == sorted(str(event_id) for event_id in made)
    assert len({job_id, *made}) == len(contents) + 1


@pytest.mark.external
def test_failed_event_marks_the_job_failed(service: ServiceProcess, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, "7", job_uuid, base_url=service.url, **FAST)

    client.create_job().record_failed_event("Error: timeout").flush()

    [job] = jobs_of(service.url, run_uuid)
    assert (job["job_status"], job["job_associated_agent"]) == ("Failed", "7")
    [event] = events_of(service.url, job_uuid)
    assert (event["event_status"], event["event_content"]) == ("Failed", "Error: timeout")


@pytest.mark.external
def test_record_event_takes_any_status_and_cancel_job_cancels(service: ServiceProcess, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 2, job_uuid, base_url=service.url, **FAST)

    client.create_job().record_event("Opening the page")
    client.record_event("Retrying the form", status="pending")
    client.cancel_job("Stopped by the operator").flush()

    [job] = jobs_of(service.url, run_uuid)
    assert job["job_status"] == "Cancelled"
    events = {event["event_content"]: event["event_status"]
              for event in events_of(service.url, job_uuid)}
    assert events == {"Opening the page": "Running", "Retrying the form": "Pending",
                      "Stopped by the operator": "Cancelled"}
    with pytest.raises(ValueError, match="Running, Success"):
        client.record_event("Step", status="Finished")


@pytest.mark.external
def test_cancel_job_without_content_only_changes_the_status(service: ServiceProcess, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 2, job_uuid, base_url=service.url, **FAST)

    client.create_job().cancel_job().flush()

    [job] = jobs_of(service.url, run_uuid)
    assert job["job_status"] == "Cancelled"
    assert events_of(service.url, job_uuid) == []


def test_constructed_by_position_or_keyword_with_the_url_from_backend_url(monkeypatch):
    monkeypatch.setenv("BACKEND_URL", "http://backend.example:9000/tracking/")
    by_position = MonitoringClient("run-a", 2, "job-a")
    by_keyword = ArmadaMonitoringClient(run_uuid="run-a", agent_number=2, job_uuid="job-a")
    assert vars(by_position).keys() == vars(by_keyword).keys()
    for client in (by_position, by_keyword):
        assert (client.run_uuid, client.agent_number, client.job_uuid) == ("run-a", 2, "job-a")
        assert client.base_url == "http://backend.example:9000/tracking"
    assert MonitoringClient("r", 1, base_url="http://other:1").base_url == "http://other:1"
    monkeypatch.delenv("BACKEND_URL")
    generated = MonitoringClient("r", 1)
    assert generated.base_url == "http://127.0.0.1:8000"
    assert len(generated.job_uuid) == 36
    with pytest.raises(ValueError):
        MonitoringClient("r", 1, max_attempts=0)


@pytest.mark.external
def test_a_path_prefix_in_the_base_url_is_kept(service: ServiceProcess, proxy: FlakyProxy,
                                               ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 1, job_uuid, base_url=f"{proxy.url}/tracking/",
                              raise_errors=False, **FAST)

    client.create_job().flush()

    assert [line for line, _ in proxy.requests] == ["POST /tracking/api/jobs/ HTTP/1.1"]
    assert isinstance(client.last_error, NotFoundError)


# Tokens.


@pytest.mark.external
def test_token_keyword_reports_to_a_service_with_write_tokens(
        guarded_service: ServiceProcess, ids, monkeypatch):
    monkeypatch.delenv("ARMADA_TOKEN", raising=False)
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 3, job_uuid, base_url=guarded_service.url,
                              token=WRITE_TOKEN, **FAST)

    client.create_job().record_success_event("Page loaded")
    client.record_failed_event("Error: timeout").flush()

    [job] = jobs_of(guarded_service.url, run_uuid)
    assert (job["job_uuid"], job["job_status"]) == (job_uuid, "Failed")
    events = events_of(guarded_service.url, job_uuid)
    assert sorted(event["event_content"] for event in events) == ["Error: timeout",
                                                                  "Page loaded"]


@pytest.mark.external
def test_token_comes_from_armada_token_when_not_given(
        guarded_service: ServiceProcess, ids, monkeypatch):
    monkeypatch.setenv("ARMADA_TOKEN", WRITE_TOKEN)
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 4, job_uuid, base_url=guarded_service.url, **FAST)

    client.create_job().record_finalsuccess_event("Job completed").flush()

    [job] = jobs_of(guarded_service.url, run_uuid)
    assert job["job_status"] == "Success"
    [event] = events_of(guarded_service.url, job_uuid)
    assert event["event_content"] == "Job completed"


@pytest.mark.external
def test_without_a_token_a_service_with_write_tokens_refuses_and_flush_raises_401(
        guarded_service: ServiceProcess, ids, monkeypatch):
    monkeypatch.delenv("ARMADA_TOKEN", raising=False)
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 5, job_uuid, base_url=guarded_service.url,
                              base_delay=1.0, max_delay=1.0)

    started = time.monotonic()
    client.create_job().record_success_event("Page loaded")
    with pytest.raises(RequestRejected) as raised:
        client.flush()

    # Refusals are not retried: a retry would wait a second.
    assert time.monotonic() - started < 0.9
    assert raised.value.status == 401
    assert "needs a bearer token" in str(raised.value)
    assert "ARMADA_TOKEN" in str(raised.value)
    assert jobs_of(guarded_service.url, run_uuid) == []
    assert client.flush() is True  # each refusal is raised once


@pytest.mark.external
def test_the_token_is_never_in_the_repr_the_error_or_the_log(
        guarded_service: ServiceProcess, ids, caplog):
    run_uuid, job_uuid = ids
    wrong = "not-the-write-token-4242424242"
    client = MonitoringClient(run_uuid, 6, job_uuid, base_url=guarded_service.url,
                              token=wrong, raise_errors=False, **FAST)

    with caplog.at_level(logging.DEBUG):
        client.create_job().flush()

    assert client.last_error is not None and client.last_error.status == 401
    assert "not a write token" in str(client.last_error)
    shown = "\n".join([repr(client), str(client.last_error), repr(client.last_error.body),
                       caplog.text])
    assert "not delivered" in shown
    assert wrong not in shown
    right = MonitoringClient(run_uuid, 6, job_uuid, token=WRITE_TOKEN)
    assert WRITE_TOKEN not in repr(right) and "token=***" in repr(right)


def test_a_token_a_header_cannot_carry_is_refused_at_construction_without_echo(monkeypatch):
    monkeypatch.setenv("ARMADA_TOKEN", "secret-token-0123456789\nX-Injected: 1")

    with pytest.raises(ValueError) as raised:
        MonitoringClient("run-t", 1)

    assert "secret" not in str(raised.value)
    assert MonitoringClient("run-t", 1, token="").__repr__().endswith("8000')")


# Refusals: raised by flush(), once each; never retried.


@pytest.mark.external
def test_a_redirect_is_not_followed_and_names_the_new_address(service: ServiceProcess,
                                                               proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    moved = f"{proxy.url}/api/jobs/?run_uuid={run_uuid}"
    proxy.answer_instead("POST /api/jobs/", (
        f"HTTP/1.1 301 Moved Permanently\r\nLocation: {moved}\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
    client = MonitoringClient(run_uuid, 1, job_uuid, base_url=proxy.url, **FAST)

    client.create_job()
    with pytest.raises(RequestRejected) as raised:
        client.flush()

    # Followed, it becomes a GET of `moved` (token included), whose 200 looks like success.
    assert raised.value.status == 301
    assert f"redirected to {moved}" in str(raised.value)
    assert [line for line, _ in proxy.requests] == ["POST /api/jobs/ HTTP/1.1"]
    assert jobs_of(service.url, run_uuid) == []


@pytest.mark.external
def test_create_job_again_resends_the_same_job(service: ServiceProcess, proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 1, job_uuid, base_url=proxy.url, **FAST)

    client.create_job().flush()
    time.sleep(0.01)
    client.create_job().flush()

    first, again = proxy.requests_to("POST /api/jobs/")
    assert first == again
    assert len(jobs_of(service.url, run_uuid)) == 1


@pytest.mark.external
def test_event_of_a_job_never_created_is_refused_with_not_found(service: ServiceProcess,
                                                                 proxy: FlakyProxy, ids):
    _, job_uuid = ids
    client = MonitoringClient("run-x", 1, job_uuid, base_url=proxy.url,
                              base_delay=1.0, max_delay=1.0)

    started = time.monotonic()
    client.record_success_event("Page loaded")
    with pytest.raises(NotFoundError) as raised:
        client.flush()

    assert time.monotonic() - started < 0.9
    assert raised.value.status == 404
    assert job_uuid in str(raised.value)
    assert isinstance(raised.value, RuntimeError)
    assert len(proxy.requests_to("POST /api/events/batch")) == 1
    assert events_of(service.url, job_uuid) == []


@pytest.mark.external
def test_one_refused_event_in_a_batch_costs_only_itself(service: ServiceProcess,
                                                        proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    settings = {"base_url": proxy.url, "batch_window": UNTIL_FLUSH, **FAST}
    known = MonitoringClient(run_uuid, 1, job_uuid, **settings)
    known.create_job().flush()
    stray = MonitoringClient(run_uuid, 2, f"{job_uuid}-never-created", **settings)

    known.record_success_event("before")
    stray.record_success_event("of no job")
    known.record_success_event("after")
    assert known.flush() is True
    with pytest.raises(NotFoundError):
        stray.flush()

    # One batch of three, refused whole (the service stores all or none), then one by one.
    assert batch_sizes(proxy.requests_to("POST /api/events/batch")) == [3, 1, 1, 1]
    assert stored_in_order(service.db_path, job_uuid) == ["before", "after"]
    assert known.last_error is None


@pytest.mark.external
def test_job_with_other_values_under_its_uuid_raises_conflict_without_retry(
        service: ServiceProcess, proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    assert post_json(service.url, "/api/jobs/", {
        "job_uuid": job_uuid, "run_uuid": run_uuid, "job_datetime": "2026-02-24T10:31:00.000",
        "job_associated_agent": "9"}) == 201
    client = MonitoringClient(run_uuid, 1, job_uuid, base_url=proxy.url,
                              base_delay=1.0, max_delay=1.0)

    client.create_job()
    with pytest.raises(ConflictError) as raised:
        client.flush()

    assert raised.value.status == 409
    assert isinstance(raised.value, RequestRejected)
    assert len(proxy.requests_to("POST /api/jobs/")) == 1
    [job] = jobs_of(service.url, run_uuid)
    assert job["job_associated_agent"] == "9"


@pytest.mark.external
def test_raise_errors_false_logs_and_keeps_the_error(service: ServiceProcess, ids, caplog):
    _, job_uuid = ids
    client = MonitoringClient("run-q", 1, job_uuid, base_url=service.url, raise_errors=False,
                              **FAST)

    with caplog.at_level(logging.ERROR, logger="armada_client"):
        assert client.record_failed_event("Error: boom") is client
        assert client.flush() is True

    assert isinstance(client.last_error, NotFoundError)
    assert sum("not delivered" in record.getMessage() for record in caplog.records) == 2


# Retries: idempotent, so a lost answer or a 503 stores each report once.


@pytest.mark.external
def test_answer_lost_after_commit_is_retried_and_stored_once(
        service: ServiceProcess, proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 4, job_uuid, base_url=proxy.url, **FAST)
    proxy.lose_answer("POST /api/jobs/")
    proxy.lose_answer("POST /api/events/batch")

    client.create_job().record_success_event("Page loaded").record_success_event("Form sent")
    assert client.flush() is True

    assert len(proxy.requests_to("POST /api/jobs/")) == 2
    first, again = proxy.requests_to("POST /api/events/batch")
    assert first == again
    assert len(jobs_of(service.url, run_uuid)) == 1
    assert stored_in_order(service.db_path, job_uuid) == ["Page loaded", "Form sent"]


@pytest.mark.external
def test_503_is_retried_after_the_servers_retry_after(
        service: ServiceProcess, proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 5, job_uuid, base_url=proxy.url, **FAST)
    client.create_job().flush()
    body = b'{"error": "database_unavailable", "detail": "database unavailable"}'
    proxy.answer_instead("POST /api/events/batch", b"HTTP/1.1 503 Service Unavailable\r\n"
                         b"Content-Type: application/json\r\nRetry-After: 1\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))

    started = time.monotonic()
    client.record_success_event("Page loaded").flush()

    assert time.monotonic() - started >= 1.0
    assert len(proxy.requests_to("POST /api/events/batch")) == 2
    assert len(events_of(service.url, job_uuid)) == 1


# Batching.


@pytest.mark.external
def test_events_of_many_agents_travel_together_in_few_batches(service: ServiceProcess,
                                                               proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    agents = [MonitoringClient(run_uuid, number, f"{job_uuid}-{number}", base_url=proxy.url,
                               batch_window=0.2, **FAST) for number in range(10)]
    for agent in agents:
        agent.create_job()
    for step in range(20):
        for agent in agents:
            agent.record_success_event(f"step {step}")
    for agent in agents:
        assert agent.flush() is True

    sizes = batch_sizes(proxy.requests_to("POST /api/events/batch"))
    assert sum(sizes) == 200
    assert len(sizes) <= 3
    for number in range(10):
        assert stored_in_order(service.db_path, f"{job_uuid}-{number}") == [
            f"step {step}" for step in range(20)]


@pytest.mark.external
def test_the_batches_of_agents_leave_together_on_the_ticks_of_utc_time(
        service: ServiceProcess, proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    window = 1.0
    # Other settings, so each agent has a sender of its own, as agents in two processes do.
    agents = [MonitoringClient(run_uuid, number, f"{job_uuid}-{number}", base_url=proxy.url,
                               batch_window=window, max_queue=1000 + number, **FAST)
              for number in range(2)]
    for agent in agents:
        assert agent.create_job().flush() is True
    time.sleep(window - time.time() % window + 0.05)

    made = [time.time()]
    agents[0].record_success_event("first")
    time.sleep(window / 2)
    made.append(time.time())
    agents[1].record_success_event("second")
    tick = (made[0] // window + 1) * window
    assert made[1] < tick, "the host was too slow to make both events within one window"
    deadline = time.monotonic() + SETTLE_SECONDS
    while len(proxy.arrived("POST /api/events/batch")) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    # Made half a window apart, sent at the same tick: the first waited nearly the whole
    # window, the second less than half of it.
    arrivals = proxy.arrived("POST /api/events/batch")
    assert len(arrivals) == 2
    assert all(tick <= at < tick + window / 4 for at in arrivals), (tick, arrivals)
    for agent in agents:
        assert agent.flush() is True  # answered, so stored
    for number, content in enumerate(("first", "second")):
        assert stored_in_order(service.db_path, f"{job_uuid}-{number}") == [content]


@given(monotonic=st.floats(0, 1e7), wall=st.floats(0, 4e9),
       window=st.floats(1e-3, 3600) | st.just(0.0))
def test_a_batch_waits_for_the_next_tick_and_never_longer_than_its_window(
        monotonic: float, wall: float, window: float):
    # Whatever the wall clock says (set, stepped, skewed), it only picks the phase.
    due = client_sender.batch_due(monotonic, wall, window)
    assert monotonic <= due <= monotonic + window
    if window:
        # It leaves on a tick: a multiple of the window in UTC time (to the floats' grain).
        phase = (wall + (due - monotonic)) % window
        assert min(phase, window - phase) < 1e-5


@pytest.mark.external
def test_a_batch_holds_at_most_the_services_batch_limit(service: ServiceProcess,
                                                        proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 1, job_uuid, base_url=proxy.url,
                              batch_window=UNTIL_FLUSH, **FAST)
    client.create_job().flush()

    for step in range(2500):
        client.record_event(f"step {step}")
    assert client.flush() is True

    assert batch_sizes(proxy.requests_to("POST /api/events/batch")) == [1000, 1000, 500]
    assert client_sender.MAX_BATCH_EVENTS == const.MAX_BATCH_EVENTS
    assert len(events_of(service.url, job_uuid)) == 2500


@pytest.mark.external
def test_a_batch_stays_under_the_services_body_limit(service: ServiceProcess,
                                                     proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 1, job_uuid, base_url=proxy.url,
                              batch_window=UNTIL_FLUSH, **FAST)
    client.create_job().flush()
    long_text = "x" * 60_000

    for step in range(30):
        client.record_event(f"{step} {long_text}")
    assert client.flush() is True

    bodies = proxy.requests_to("POST /api/events/batch")
    assert len(bodies) >= 4
    assert max(len(body) for body in bodies) <= client_sender.MAX_BATCH_BYTES
    assert client_sender.MAX_BATCH_BYTES < const.MAX_BODY_BYTES
    assert len(stored_in_order(service.db_path, job_uuid)) == 30


# Outages: the agent goes on, and everything arrives once, in order.


@pytest.mark.external
def test_unreachable_service_never_blocks_a_call_and_flush_is_bounded(
        dormant_service: ServiceProcess, heap_frozen: None):
    service = dormant_service
    client = MonitoringClient("run-u", 1, "job-u", base_url=service.url, deadline=0.3, **FAST)

    started = time.perf_counter()
    client.create_job()
    for step in range(100):
        client.record_success_event(f"step {step}")
    client.record_finalsuccess_event("done")
    took = time.perf_counter() - started

    assert took < 0.1
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="103 reports of job job-u not delivered"):
        client.flush(timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert client.pending == 103
    quiet = MonitoringClient("run-u", 1, "job-u", base_url=client.base_url, deadline=0.3,
                             raise_errors=False, **FAST)
    assert quiet.record_success_event("one more").flush(timeout=0.2) is False
    assert isinstance(quiet.last_error, ServiceUnavailable)
    service.start()
    assert quiet.flush(timeout=SETTLE_SECONDS) is True
    assert len(stored_in_order(service.db_path, "job-u")) == 102


@pytest.mark.slow
@pytest.mark.external
def test_twenty_agents_report_through_an_outage_and_nothing_is_lost_or_doubled(
        own_service: ServiceProcess, heap_frozen: None):
    service = own_service
    agents = [MonitoringClient("run-outage", number, f"job-outage-{number}",
                               base_url=service.url, base_delay=0.05, max_delay=0.3)
              for number in range(AGENTS)]
    stop = threading.Event()
    steps = [0] * AGENTS
    slowest = [0.0] * AGENTS
    during_outage = threading.Event()
    calls_during_outage = [0] * AGENTS

    def agent(number: int) -> None:
        client = agents[number]
        client.create_job()
        while not stop.is_set():
            if during_outage.is_set() and calls_during_outage[number] >= CALLS_IN_OUTAGE:
                time.sleep(0.01)  # enough queued, however long the restart takes
                continue
            started = time.perf_counter()
            client.record_success_event(f"step {steps[number]}")
            slowest[number] = max(slowest[number], time.perf_counter() - started)
            steps[number] += 1
            if during_outage.is_set():
                calls_during_outage[number] += 1
            time.sleep(0.01)
        started = time.perf_counter()
        client.record_finalsuccess_event("done")
        slowest[number] = max(slowest[number], time.perf_counter() - started)

    threads = [threading.Thread(target=agent, args=(number,)) for number in range(AGENTS)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    service.stop()
    during_outage.set()
    time.sleep(OUTAGE_SECONDS)
    queued_in_outage = sum(client.pending for client in agents)
    service.start()
    during_outage.clear()
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)

    assert all(client.flush(timeout=SETTLE_SECONDS) for client in agents)
    assert min(calls_during_outage) > 50
    assert queued_in_outage > AGENTS * 50
    assert max(slowest) < CALL_LIMIT_SECONDS, f"a call took {max(slowest) * 1000:.1f} ms"
    for number, client in enumerate(agents):
        expected = [f"step {step}" for step in range(steps[number])] + ["done"]
        assert stored_in_order(service.db_path, client.job_uuid) == expected
        events = events_of(service.url, client.job_uuid)
        assert len({event["event_uuid"] for event in events}) == len(expected)
    assert {job["job_status"] for job in jobs_of(service.url, "run-outage")} == {"Success"}


@pytest.mark.external
def test_service_killed_mid_batch_loses_and_doubles_nothing(own_service: ServiceProcess,
                                                            caplog):
    service = own_service
    agents = [MonitoringClient("run-kill", number, f"job-kill-{number}", base_url=service.url,
                               base_delay=0.05, max_delay=0.3)
              for number in range(KILL_AGENTS)]

    def agent(client: MonitoringClient) -> None:
        client.create_job()
        for step in range(KILL_EVENTS):
            client.record_success_event(f"step {step}")
            if step % 10 == 0:
                time.sleep(0.002)
        client.record_finalsuccess_event("done")

    with caplog.at_level(logging.WARNING, logger="armada_client"):
        threads = [threading.Thread(target=agent, args=(client,)) for client in agents]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + SETTLE_SECONDS
        while stored_count(service.db_path) < KILL_AFTER_STORED:
            assert time.monotonic() < deadline, "the agents' events never arrived"
            time.sleep(0.005)
        service.kill()
        time.sleep(0.3)
        service.start()
        for thread in threads:
            thread.join(timeout=SETTLE_SECONDS)
        assert all(client.flush(timeout=SETTLE_SECONDS) for client in agents)

    assert any("answers again" in record.getMessage() for record in caplog.records)
    expected = [f"step {step}" for step in range(KILL_EVENTS)] + ["done"]
    for client in agents:
        assert stored_in_order(service.db_path, client.job_uuid) == expected
    assert {job["job_status"] for job in jobs_of(service.url, "run-kill")} == {"Success"}


@pytest.mark.external
def test_a_full_queue_drops_its_oldest_events_counted_and_keeps_the_job_and_status(
        own_service: ServiceProcess, heap_frozen: None, caplog):
    service = own_service
    client = MonitoringClient("run-full", 1, "job-full", base_url=service.url, max_queue=10,
                              batch_window=UNTIL_FLUSH, base_delay=0.05, max_delay=0.2)
    client.create_job().flush()
    service.stop()

    with caplog.at_level(logging.WARNING, logger="armada_client"):
        started = time.perf_counter()
        for step in range(30):
            client.record_success_event(f"step {step}")
        client.record_finalsuccess_event("done")
        took = time.perf_counter() - started
    service.start()

    assert took < 0.05
    assert client.dropped == 22
    with pytest.raises(ServiceUnavailable, match="22 reports dropped: the queue was full"):
        client.flush(timeout=SETTLE_SECONDS)
    assert stored_in_order(service.db_path, "job-full") == [
        *(f"step {step}" for step in range(22, 30)), "done"]
    [job] = jobs_of(service.url, "run-full")
    assert job["job_status"] == "Success"
    assert any("queue full (10 reports)" in record.getMessage() for record in caplog.records)


@pytest.mark.external
def test_reports_queued_at_exit_are_sent_before_the_process_ends(service: ServiceProcess, ids):
    run_uuid, job_uuid = ids
    script = (
        "import sys; from armada_client import MonitoringClient\n"
        f"client = MonitoringClient({run_uuid!r}, 1, {job_uuid!r}, base_url={service.url!r},"
        " batch_window=5.0)\n"
        "client.create_job().record_success_event('Page loaded')\n"
        "client.record_finalsuccess_event('Done')\n"
    )

    subprocess.run([sys.executable, "-c", script], check=True, timeout=SETTLE_SECONDS,
                   cwd=REPO_ROOT / "client")

    [job] = jobs_of(service.url, run_uuid)
    assert job["job_status"] == "Success"
    assert stored_in_order(service.db_path, job_uuid) == ["Page loaded", "Done"]


@pytest.mark.external
def test_a_forked_child_reports_through_a_client_made_before_the_fork(
        service: ServiceProcess, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 1, job_uuid, base_url=service.url, deadline=10.0,
                              **FAST)
    client.create_job().flush()

    def child() -> None:
        assert client.record_event("from the child").flush()

    forked = multiprocessing.get_context("fork").Process(target=child)
    forked.start()
    forked.join(SETTLE_SECONDS)
    client.record_event("from the parent").flush()

    assert forked.exitcode == 0
    assert sorted(stored_in_order(service.db_path, job_uuid)) == [
        "from the child", "from the parent"]


# The asyncio flavour.


@pytest.mark.external
async def test_the_async_client_reports_and_awaits_flush_without_holding_the_loop(
        service: ServiceProcess, dormant_service: ServiceProcess, ids):
    run_uuid, job_uuid = ids
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.ensure_future(ticking())
    stuck = AsyncMonitoringClient("run-a", 1, "job-a", base_url=dormant_service.url,
                                  deadline=0.3, raise_errors=False, **FAST)
    assert await stuck.create_job().flush(timeout=0.5) is False
    assert ticks >= 20
    ticker.cancel()
    await asyncio.to_thread(dormant_service.start)
    assert await stuck.flush(timeout=SETTLE_SECONDS) is True

    async with AsyncMonitoringClient(run_uuid, 8, job_uuid, base_url=service.url,
                                     **FAST) as client:
        client.create_job().record_event("Page loaded").record_finalsuccess_event("Done")

    assert client.pending == 0
    [job] = jobs_of(service.url, run_uuid)
    assert (job["job_status"], job["job_associated_agent"]) == ("Success", "8")
    assert stored_in_order(service.db_path, job_uuid) == ["Page loaded", "Done"]


# Delays.


def test_backoff_delays_are_capped_and_jittered():
    rng = random.Random(1234)
    delays = [[backoff_delay(retry, 0.5, 8.0, rng) for retry in range(12)] for _ in range(50)]

    for series in delays:
        for retry, delay in enumerate(series):
            assert 0 <= delay <= min(8.0, 0.5 * 2 ** retry)
    late = [series[retry] for series in delays for retry in range(5, 12)]
    assert max(late) <= 8.0
    assert max(late) > 6.0
    assert len({round(delay, 9) for delay in late}) == len(late)
    assert backoff_delay(10_000, 0.5, 8.0, random.Random(1)) <= 8.0
    again = random.Random(1234)
    assert delays[0] == [backoff_delay(retry, 0.5, 8.0, again) for retry in range(12)]


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after_seconds("1") == 1.0
    assert retry_after_seconds("0.25") == 0.25
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    now = datetime(2026, 2, 24, 10, 30, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=5), usegmt=True)
    assert retry_after_seconds(later, now=now.timestamp()) == 5.0
