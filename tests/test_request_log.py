"""One log line per request with a request id, returned as X-Request-ID; JSON logs on demand."""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import RUN
from server_process import START_TIMEOUT, free_port, service_environment

from armada.logging_setup import JsonFormatter


async def test_every_answer_carries_a_request_id(client: Any) -> None:
    first = await client.get("/api/runs/")
    second = await client.get("/api/nothing")

    assert len(first.headers["X-Request-ID"]) >= 16
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.external
async def test_a_sane_incoming_request_id_is_kept_and_an_odd_one_replaced(client: Any) -> None:
    kept = await client.get("/api/runs/", headers={"X-Request-ID": "nginx-4f2a.17"})
    replaced = await client.get("/api/runs/", headers={"X-Request-ID": "x" * 500})

    assert kept.headers["X-Request-ID"] == "nginx-4f2a.17"
    assert replaced.headers["X-Request-ID"] != "x" * 500


async def test_one_line_per_request_with_method_path_status_duration_and_id(
        client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="armada.access")

    response = await client.post("/api/runs/", json=RUN)

    lines = [record for record in caplog.records if record.name == "armada.access"]
    assert len(lines) == 1
    record = lines[0]
    request_id = response.headers["X-Request-ID"]
    assert record.getMessage().startswith("POST /api/runs/ 201 ")
    assert record.getMessage().endswith(f"id={request_id}")
    assert (record.method, record.path, record.status, record.request_id) == (
        "POST", "/api/runs/", 201, request_id)
    assert record.duration_ms >= 0


def test_the_json_formatter_writes_one_object_with_the_extra_fields() -> None:
    record = logging.makeLogRecord({"name": "armada.access", "levelname": "INFO",
                                    "msg": "GET / 200", "status": 200, "request_id": "r1"})

    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == "GET / 200"
    assert entry["status"] == 200 and entry["request_id"] == "r1"
    assert {"time", "level", "logger"} <= entry.keys()


@pytest.mark.external
def test_the_service_logs_json_lines_and_no_token(tmp_path: Path) -> None:
    port = free_port()
    token = "read-token-never-logged-42"
    env = service_environment(ARMADA_DB_PATH=str(tmp_path / "armada.db"), ARMADA_PORT=str(port),
                              ARMADA_LOG_FORMAT="json", ARMADA_READ_TOKENS=token)
    process = subprocess.Popen([sys.executable, "-m", "armada", "serve"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/api/runs/"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}",
                                                       "X-Request-ID": "from-test-1"})
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(request, timeout=1) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "service did not start"
                time.sleep(0.05)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=START_TIMEOUT)

    entries = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    access = [entry for entry in entries if entry["logger"] == "armada.access"]
    assert any(entry["request_id"] == "from-test-1" and entry["status"] == 200
               and entry["path"] == "/api/runs/" for entry in access)
    assert not any(entry["logger"] == "aiohttp.access" for entry in entries)
    assert token not in stderr


async def test_an_error_line_carries_the_error_code_of_the_answer(
        client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="armada.access")

    missing = await client.get("/api/runs/no-such-run")
    invalid = await client.post("/api/runs/", json={"run_uuid": "r"})

    assert (missing.status, invalid.status) == (404, 422)
    lines = [record for record in caplog.records if record.name == "armada.access"]
    assert [record.getMessage().rpartition(" ")[2] for record in lines] == [
        "error=not_found", "error=validation_error"]
    assert [record.error for record in lines] == ["not_found", "validation_error"]


async def test_probes_and_metrics_scrapes_are_logged_at_debug_and_the_api_at_info(
        client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="armada.access")

    for path in ("/healthz", "/readyz/", "/metrics", "/api/runs/"):
        assert (await client.get(path)).status == 200

    levels = {record.path: record.levelname for record in caplog.records
              if record.name == "armada.access"}
    assert levels == {"/healthz": "DEBUG", "/readyz/": "DEBUG", "/metrics": "DEBUG",
                      "/api/runs/": "INFO"}


# A client-chosen path that, decoded, would end the line and start one of its own.
FORGED_PATH = ("/api/runs/x%0A2026-12-06T09:00:00.000Z%20WARNING%20armada:%20FORGED"
               "%0D%00%E2%80%A8%C2%85end")
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) ")


@pytest.mark.external
def test_a_path_with_control_characters_is_logged_as_one_escaped_line(tmp_path: Path) -> None:
    port = free_port()
    env = service_environment(ARMADA_DB_PATH=str(tmp_path / "armada.db"), ARMADA_PORT=str(port))
    process = subprocess.Popen([sys.executable, "-m", "armada", "serve"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    sock.sendall(f"GET {FORGED_PATH} HTTP/1.1\r\nHost: x\r\n"
                                 "Connection: close\r\n\r\n".encode())
                    answer = b"".join(iter(lambda: sock.recv(65536), b""))
                break
            except OSError:
                assert time.monotonic() < deadline, "service did not start"
                time.sleep(0.05)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=START_TIMEOUT)

    assert answer.startswith(b"HTTP/1.1 4")
    assert b"\x00" not in stderr and b"\r" not in stderr
    lines = stderr.decode().split("\n")
    forged = [line for line in lines if "FORGED" in line]
    assert len(forged) == 1, stderr
    assert TEXT_LINE.match(forged[0]), forged[0]
    assert " INFO armada.access: GET /api/runs/x\\n2026-12-06T09:00:00.000Z WARNING armada: " \
        "FORGED\\r\\x00\\u2028\\x85end 4" in forged[0]
    assert all(TEXT_LINE.match(line) for line in lines if line), stderr


async def test_a_redirect_is_logged_like_any_answer(
        client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="armada.access")

    response = await client.get("/api/docs", allow_redirects=False)

    assert response.status == 302
    lines = [record.getMessage() for record in caplog.records if record.name == "armada.access"]
    assert len(lines) == 1 and lines[0].startswith("GET /api/docs 302 "), lines
    assert "error=" not in lines[0]
