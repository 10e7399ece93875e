"""One log line per request with a request id, returned as X-Request-ID; JSON logs on demand."""

from __future__ import annotations

import json
import logging
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
