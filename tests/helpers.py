"""Helpers the tests share: reading broadcasts, and bodies of valid records."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any
from unittest.mock import ANY

import aiohttp
import pytest

MESSAGE_TIMEOUT = 5.0
# Generated inputs are the same on every run (CI gets no surprise); ARMADA_TEST_EXPLORE=1
# draws new ones each run, to hunt for inputs nobody has tried yet.
DERANDOMIZE = not os.environ.get("ARMADA_TEST_EXPLORE")


async def next_envelope(ws: aiohttp.ClientWebSocketResponse,
                        within: float = MESSAGE_TIMEOUT) -> dict[str, Any]:
    """The next broadcast message, parsed, with its `seq`, `epoch` and `ts`; fails the test
    when none comes in time."""
    # Not receive(timeout=...): aiohttp restarts that timeout at every ping it answers.
    async with asyncio.timeout(within):
        message = await ws.receive()
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def next_message(ws: aiohttp.ClientWebSocketResponse,
                       within: float = MESSAGE_TIMEOUT) -> dict[str, Any]:
    """The `type` and `data` of the next broadcast message (what the spec fixes)."""
    envelope = await next_envelope(ws, within)
    return {"type": envelope["type"], "data": envelope["data"]}


async def no_message(ws: aiohttp.ClientWebSocketResponse, within: float = 0.3) -> None:
    """Assert that nothing arrives on `ws` for `within` seconds."""
    try:
        async with asyncio.timeout(within):
            message = await ws.receive()
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message {message}")


RUN = {"run_uuid": "run-1", "run_datetime": "2026-02-24T10:30:00.000"}
SUMMARY_COUNTS = ("total", "running", "success", "failed", "pending", "cancelled", "lost")


def job_counts(**counts: int) -> dict[str, Any]:
    """The job counts a run carries when read: `job_counts(total=2, running=1, failed=1)`,
    with the run_status they give; its report times are any (tests/test_run_status.py)."""
    assert set(counts) <= set(SUMMARY_COUNTS), counts
    summary: dict[str, Any] = {f"jobs_{name}": counts.get(name, 0) for name in SUMMARY_COUNTS}
    return {**summary, "run_status": run_status_of(summary),
            "first_report_datetime": ANY, "last_report_datetime": ANY}


def run_status_of(counts: dict[str, int]) -> str:
    """The rule of docs/api.md, Run state."""
    if counts["jobs_running"] or counts["jobs_pending"]:
        return "Running"
    if counts["jobs_failed"] or counts["jobs_lost"]:
        return "Failed"
    if counts["jobs_cancelled"]:
        return "Cancelled"
    return "Success" if counts["jobs_total"] else "Pending"


def job_body(job_uuid: str = "job-1", run_uuid: str = "run-1", **extra: Any) -> dict[str, Any]:
    return {"job_uuid": job_uuid, "run_uuid": run_uuid,
            "job_datetime": "2026-02-24T10:31:00.000", **extra}


def event_body(event_uuid: str = "event-1", job_uuid: str = "job-1",
               **extra: Any) -> dict[str, Any]:
    return {"event_uuid": event_uuid, "job_uuid": job_uuid, "event_content": "Page loaded",
            "event_datetime": "2026-02-24T10:32:00.000", **extra}


SLASHES = pytest.mark.parametrize("slash", ["/", ""], ids=["slash", "no-slash"])


async def assert_validation_error(response: Any, field: str) -> None:
    assert response.status == 422
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["error"] == "validation_error"
    assert field in body["fields"]


