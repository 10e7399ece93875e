"""The agents' client against the real service process: retried safely, never lost or doubled.

Requests are counted, and answers lost or replaced, by a small TCP proxy in front of the
service (`FlakyProxy`), not by mocks: the client speaks real HTTP to a real server.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from server_process import ServiceProcess, free_port

from armada.client import (
    ArmadaMonitoringClient,
    ConflictError,
    MonitoringClient,
    NotFoundError,
    RequestRejected,
    ServiceUnavailable,
    backoff_delay,
    retry_after_seconds,
)

FAST = {"base_delay": 0.02, "max_delay": 0.2, "max_attempts": 5, "deadline": 10.0}
# A 4xx must raise at once: with these, one retry would take at least a second.
SLOW = {"base_delay": 1.0, "max_delay": 1.0, "max_attempts": 5, "deadline": 10.0}
WRITE_TOKEN = "agent-write-token-0123456789"
PROXY_TIMEOUT = 10.0
KILLED_SEQUENCE_EVENTS = 150
KILL_AFTER_EVENTS = 20


class FlakyProxy:
    """Forwards each connection (one request: urllib sends `Connection: close`) to the service.

    Records every request line; `lose_answer(prefix)` forwards the next matching request but
    closes the connection instead of passing the answer back; `answer_instead(prefix, raw)`
    answers the next matching request itself, without forwarding it.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.requests: list[str] = []
        self._lose: list[str] = []
        self._fake: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def lose_answer(self, prefix: str) -> None:
        with self._lock:
            self._lose.append(prefix)

    def answer_instead(self, prefix: str, raw: bytes) -> None:
        with self._lock:
            self._fake.append((prefix, raw))

    def requests_to(self, prefix: str) -> int:
        with self._lock:
            return sum(line.startswith(prefix) for line in self.requests)

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
        with connection:
            connection.settimeout(PROXY_TIMEOUT)
            request = _read_request(connection)
            line = request.split(b"\r\n", 1)[0].decode()
            with self._lock:
                self.requests.append(line)
            fake = self._take(self._fake, line, key=lambda item: item[0])
            if fake is not None:
                connection.sendall(fake[1])
                return
            with socket.create_connection(("127.0.0.1", self.upstream_port),
                                          timeout=PROXY_TIMEOUT) as upstream:
                upstream.sendall(request)
                answer = _read_to_end(upstream)
            if self._take(self._lose, line, key=lambda prefix: prefix) is not None:
                return  # committed upstream; the client sees the connection close
            connection.sendall(answer)


def _read_request(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
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
    return head + b"\r\n\r\n" + body


def _read_to_end(connection: socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


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
def proxy(service: ServiceProcess) -> Iterator[FlakyProxy]:
    flaky = FlakyProxy(service.port)
    yield flaky
    flaky.close()


@pytest.fixture
def ids(request: pytest.FixtureRequest) -> tuple[str, str]:
    """A run and a job uuid of this test only: tests share one service."""
    return f"run-{request.node.name}", f"job-{request.node.name}"


def test_full_sequence_is_visible_through_the_api(service: ServiceProcess, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 3, job_uuid, base_url=service.url, **FAST)

    assert client.create_job() is client
    client.record_success_event("Page loaded").record_success_event("Form submitted")
    client.record_finalsuccess_event("Job completed")

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


def test_failed_event_marks_the_job_failed(service: ServiceProcess, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, "7", job_uuid, base_url=service.url, **FAST)

    client.create_job().record_failed_event("Error: timeout")

    [job] = jobs_of(service.url, run_uuid)
    assert (job["job_status"], job["job_associated_agent"]) == ("Failed", "7")
    [event] = events_of(service.url, job_uuid)
    assert (event["event_status"], event["event_content"]) == ("Failed", "Error: timeout")


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


def test_token_keyword_reports_to_a_service_with_write_tokens(
        guarded_service: ServiceProcess, ids, monkeypatch):
    monkeypatch.delenv("ARMADA_TOKEN", raising=False)
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 3, job_uuid, base_url=guarded_service.url,
                              token=WRITE_TOKEN, **FAST)

    client.create_job().record_success_event("Page loaded")
    client.record_failed_event("Error: timeout")

    [job] = jobs_of(guarded_service.url, run_uuid)
    assert (job["job_uuid"], job["job_status"]) == (job_uuid, "Failed")
    events = events_of(guarded_service.url, job_uuid)
    assert sorted(event["event_content"] for event in events) == ["Error: timeout",
                                                                  "Page loaded"]


def test_token_comes_from_armada_token_when_not_given(
        guarded_service: ServiceProcess, ids, monkeypatch):
    monkeypatch.setenv("ARMADA_TOKEN", WRITE_TOKEN)
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 4, job_uuid, base_url=guarded_service.url, **FAST)

    client.create_job().record_finalsuccess_event("Job completed")

    [job] = jobs_of(guarded_service.url, run_uuid)
    assert job["job_status"] == "Success"
    [event] = events_of(guarded_service.url, job_uuid)
    assert event["event_content"] == "Job completed"


def test_without_a_token_a_service_with_write_tokens_rejects_at_once_with_401(
        guarded_service: ServiceProcess, ids, monkeypatch):
    monkeypatch.delenv("ARMADA_TOKEN", raising=False)
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 5, job_uuid, base_url=guarded_service.url, **SLOW)

    started = time.monotonic()
    with pytest.raises(RequestRejected) as raised:
        client.create_job()

    assert time.monotonic() - started < 0.5
    assert raised.value.status == 401
    assert "needs a bearer token" in str(raised.value)
    assert "ARMADA_TOKEN" in str(raised.value)
    assert jobs_of(guarded_service.url, run_uuid) == []


def test_the_token_is_never_in_the_repr_the_error_or_the_log(
        guarded_service: ServiceProcess, ids, caplog):
    run_uuid, job_uuid = ids
    wrong = "not-the-write-token-4242424242"
    client = MonitoringClient(run_uuid, 6, job_uuid, base_url=guarded_service.url,
                              token=wrong, raise_errors=False, **SLOW)

    with caplog.at_level(logging.DEBUG):
        client.create_job()

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


def test_a_redirect_is_not_followed_and_names_the_new_address(service: ServiceProcess,
                                                               proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    moved = f"{proxy.url}/api/jobs/?run_uuid={run_uuid}"
    proxy.answer_instead("POST /api/jobs/", (
        f"HTTP/1.1 301 Moved Permanently\r\nLocation: {moved}\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
    client = MonitoringClient(run_uuid, 1, job_uuid, base_url=proxy.url, **SLOW)

    with pytest.raises(RequestRejected) as raised:
        client.create_job()

    # Followed, it becomes a GET of `moved` (token included), whose 200 looks like success.
    assert raised.value.status == 301
    assert f"redirected to {moved}" in str(raised.value)
    assert proxy.requests == ["POST /api/jobs/ HTTP/1.1"]
    assert jobs_of(service.url, run_uuid) == []


def test_create_job_again_resends_the_same_job(service: ServiceProcess, proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 1, job_uuid, base_url=proxy.url, **FAST)

    client.create_job()
    time.sleep(0.01)
    client.create_job()

    assert proxy.requests_to("POST /api/jobs/") == 2
    assert len(jobs_of(service.url, run_uuid)) == 1


def test_event_of_a_job_never_created_raises_at_once(service: ServiceProcess,
                                                      proxy: FlakyProxy, ids):
    _, job_uuid = ids
    client = MonitoringClient("run-x", 1, job_uuid, base_url=proxy.url,
                              base_delay=1.0, max_delay=1.0, max_attempts=5, deadline=10.0)

    started = time.monotonic()
    with pytest.raises(NotFoundError) as raised:
        client.record_success_event("Page loaded")

    assert time.monotonic() - started < 0.5
    assert raised.value.status == 404
    assert job_uuid in str(raised.value)
    assert isinstance(raised.value, RuntimeError)
    assert proxy.requests == ["POST /api/events/ HTTP/1.1"]
    assert events_of(service.url, job_uuid) == []


def test_job_with_other_values_under_its_uuid_raises_conflict_without_retry(
        service: ServiceProcess, proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    assert post_json(service.url, "/api/jobs/", {
        "job_uuid": job_uuid, "run_uuid": run_uuid, "job_datetime": "2026-02-24T10:31:00.000",
        "job_associated_agent": "9"}) == 201
    client = MonitoringClient(run_uuid, 1, job_uuid, base_url=proxy.url,
                              base_delay=1.0, max_delay=1.0, max_attempts=5, deadline=10.0)

    with pytest.raises(ConflictError) as raised:
        client.create_job()

    assert raised.value.status == 409
    assert isinstance(raised.value, RequestRejected)
    assert proxy.requests_to("POST /api/jobs/") == 1
    [job] = jobs_of(service.url, run_uuid)
    assert job["job_associated_agent"] == "9"


def test_answer_lost_after_commit_is_retried_and_stored_once(
        service: ServiceProcess, proxy: FlakyProxy, ids, caplog):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 4, job_uuid, base_url=proxy.url, **FAST)
    proxy.lose_answer("POST /api/jobs/")
    proxy.lose_answer("POST /api/events/")

    with caplog.at_level(logging.WARNING, logger="armada.client"):
        client.create_job().record_success_event("Page loaded")

    assert proxy.requests_to("POST /api/jobs/") == 2
    assert proxy.requests_to("POST /api/events/") == 2
    assert len(jobs_of(service.url, run_uuid)) == 1
    [event] = events_of(service.url, job_uuid)
    assert event["event_content"] == "Page loaded"
    retries = [record for record in caplog.records if "retrying" in record.getMessage()]
    assert len(retries) == 2


def test_503_is_retried_after_the_servers_retry_after(
        service: ServiceProcess, proxy: FlakyProxy, ids):
    run_uuid, job_uuid = ids
    client = MonitoringClient(run_uuid, 5, job_uuid, base_url=proxy.url, **FAST)
    client.create_job()
    body = b'{"error": "database_unavailable", "detail": "database unavailable"}'
    proxy.answer_instead("POST /api/events/", b"HTTP/1.1 503 Service Unavailable\r\n"
                         b"Content-Type: application/json\r\nRetry-After: 1\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))

    started = time.monotonic()
    client.record_success_event("Page loaded")

    assert time.monotonic() - started >= 1.0
    assert proxy.requests_to("POST /api/events/") == 2
    assert len(events_of(service.url, job_uuid)) == 1


def test_unreachable_service_raises_after_max_attempts(caplog):
    client = MonitoringClient("run-u", 1, "job-u", base_url=f"http://127.0.0.1:{free_port()}",
                              base_delay=0.01, max_delay=0.02, max_attempts=3, deadline=10.0)

    with caplog.at_level(logging.WARNING, logger="armada.client"), \
            pytest.raises(ServiceUnavailable, match="after 3 attempts"):
        client.create_job()

    levels = [record.levelname for record in caplog.records if record.name == "armada.client"]
    assert levels == ["WARNING", "WARNING", "ERROR"]


def test_deadline_bounds_the_retries():
    client = MonitoringClient("run-d", 1, "job-d", base_url=f"http://127.0.0.1:{free_port()}",
                              base_delay=0.05, max_delay=0.05, max_attempts=1000, deadline=0.5)

    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        client.create_job()

    assert time.monotonic() - started < 1.0


def test_raise_errors_false_logs_and_returns(caplog):
    client = MonitoringClient("run-q", 1, "job-q", base_url=f"http://127.0.0.1:{free_port()}",
                              base_delay=0.01, max_delay=0.02, max_attempts=2, deadline=10.0,
                              raise_errors=False)

    with caplog.at_level(logging.ERROR, logger="armada.client"):
        assert client.create_job().record_failed_event("Error: boom") is client

    assert isinstance(client.last_error, ServiceUnavailable)
    assert sum("not delivered" in record.getMessage() for record in caplog.records) == 2


def test_service_killed_mid_sequence_loses_and_doubles_nothing(tmp_path: Path, caplog):
    service = ServiceProcess(tmp_path / "armada.db", cwd=tmp_path)
    service.start()
    try:
        client = MonitoringClient("run-kill", 6, "job-kill", base_url=service.url,
                                  base_delay=0.05, max_delay=0.3, max_attempts=200, deadline=30.0)
        client.create_job()
        failures: list[BaseException] = []
        under_way = threading.Event()

        def agent() -> None:
            try:
                for step in range(KILLED_SEQUENCE_EVENTS):
                    client.record_success_event(f"step {step}")
                    if step == KILL_AFTER_EVENTS:
                        under_way.set()
                client.record_finalsuccess_event("done")
            except BaseException as error:
                failures.append(error)

        with caplog.at_level(logging.WARNING, logger="armada.client"):
            reporting = threading.Thread(target=agent)
            reporting.start()
            assert under_way.wait(timeout=10), "the agent reported nothing"
            service.kill()
            time.sleep(0.3)
            service.start()
            reporting.join(timeout=60)

        assert not reporting.is_alive()
        assert failures == []
        assert any("retrying" in record.getMessage() for record in caplog.records)
        events = events_of(service.url, "job-kill")
        expected = [f"step {step}" for step in range(KILLED_SEQUENCE_EVENTS)] + ["done"]
        assert sorted(event["event_content"] for event in events) == sorted(expected)
        assert len({event["event_uuid"] for event in events}) == len(expected)
        [job] = jobs_of(service.url, "run-kill")
        assert job["job_status"] == "Success"
    finally:
        service.stop()


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
