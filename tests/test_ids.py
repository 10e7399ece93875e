"""Ids are exact on every database: two ids that differ only in letter case are two records
(SQLite compares text byte for byte; fresh SQL Server tables declare a binary collation).
Runs on SQL Server too with ARMADA_TEST_MSSQL."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import RUN, event_body, job_body


async def test_ids_that_differ_only_in_case_are_different_records(client: Any) -> None:
    assert (await client.post("/api/runs/", json=RUN)).status == 201
    assert (await client.post("/api/runs/", json={**RUN, "run_uuid": "RUN-1"})).status == 201
    assert (await client.post("/api/jobs/", json=job_body("job-1"))).status == 201
    upper = await client.post("/api/jobs/", json=job_body("JOB-1", "RUN-1", job_status="Failed"))
    assert upper.status == 201
    assert (await client.post("/api/events/", json=event_body("event-1", "job-1"))).status == 201
    assert (await client.post("/api/events/", json=event_body("EVENT-1", "JOB-1"))).status == 201

    lower_job = await (await client.get("/api/jobs/job-1")).json()
    upper_job = await (await client.get("/api/jobs/JOB-1")).json()
    assert (lower_job["run_uuid"], lower_job["job_status"]) == ("run-1", "Running")
    assert (upper_job["run_uuid"], upper_job["job_status"]) == ("RUN-1", "Failed")
    jobs_of_run = await (await client.get("/api/jobs/?run_uuid=RUN-1")).json()
    assert [job["job_uuid"] for job in jobs_of_run["jobs"]] == ["JOB-1"]
    assert (await (await client.get("/api/events/EVENT-1")).json())["job_uuid"] == "JOB-1"
    assert (await client.get("/api/events/Event-1")).status == 404

    assert (await client.delete("/api/runs/RUN-1")).status == 200
    assert (await client.get("/api/jobs/JOB-1")).status == 404
    assert (await client.get("/api/jobs/job-1")).status == 200


@pytest.mark.parametrize("blank", [" ", "  ", "\t", "\u3000"])
async def test_a_blank_id_is_a_422_naming_the_field(client: Any, blank: str) -> None:
    assert (await client.post("/api/jobs/", json=job_body("job-1"))).status == 201
    for path, body, field in [
        ("/api/runs/", {**RUN, "run_uuid": blank}, "run_uuid"),
        ("/api/jobs/", job_body(blank), "job_uuid"),
        ("/api/jobs/", job_body("job-2", blank), "run_uuid"),
        ("/api/events/", event_body(blank, "job-1"), "event_uuid"),
        ("/api/events/", event_body("event-1", blank), "job_uuid"),
    ]:
        response = await client.post(path, json=body)
        assert response.status == 422, (path, body)
        fields = (await response.json())["fields"]
        assert list(fields) == [field]
        assert "blank" in fields[field][0]
    assert (await (await client.get("/api/runs/")).json())["total"] == 1
    assert (await (await client.get("/api/jobs/")).json())["total"] == 1
