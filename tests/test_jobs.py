"""Specification of /api/jobs/: list (of one run or all, paged), create, set status."""

import asyncio
import uuid

import pytest
from helpers import (
    RUN,
    SLASHES,
    assert_validation_error,
    job_body,
    job_counts,
    next_message,
    no_message,
)

JOB = {"job_uuid": "job-1", "run_uuid": "run-1", "job_datetime": "2026-02-24T10:31:00.000Z",
       "job_associated_agent": "Unknown", "job_status": "Running"}


async def jobs_page(client, query: str = "") -> dict:
    response = await client.get("/api/jobs/" + query)
    assert response.status == 200
    return await response.json()


@SLASHES
async def test_create_job_answers_201_with_the_job_and_broadcasts_it(client, subscribe, slash):
    await client.post("/api/runs/", json=RUN)
    ws = await subscribe()
    response = await client.post("/api/jobs" + slash, json=job_body(
        job_associated_agent="agent-7", job_status="Success"))
    assert response.status == 201
    job = {**JOB, "job_associated_agent": "agent-7", "job_status": "Success"}
    assert await response.json() == job
    assert await next_message(ws) == {"type": "new_job", "data": job}
    await no_message(ws)


async def test_create_job_fills_in_the_defaults(client):
    body = job_body()
    del body["job_uuid"]
    response = await client.post("/api/jobs/", json=body)
    assert response.status == 201
    job = await response.json()
    generated = uuid.UUID(job.pop("job_uuid"))
    assert generated.version == 4
    assert job == {"run_uuid": "run-1", "job_datetime": "2026-02-24T10:31:00.000Z",
                   "job_associated_agent": "Unknown", "job_status": "Running"}


async def test_optional_job_fields_sent_as_null_take_their_defaults(client):
    response = await client.post("/api/jobs/", json=job_body(
        job_uuid=None, job_associated_agent=None, job_status=None))
    assert response.status == 201
    job = await response.json()
    assert uuid.UUID(job["job_uuid"]).version == 4
    assert job["job_associated_agent"] == "Unknown"
    assert job["job_status"] == "Running"


async def test_jobs_without_an_id_get_distinct_generated_ids(client):
    ids = set()
    for _ in range(3):
        body = job_body()
        del body["job_uuid"]
        ids.add((await (await client.post("/api/jobs/", json=body)).json())["job_uuid"])
    assert len(ids) == 3
    assert (await jobs_page(client))["total"] == 3


async def test_a_job_of_an_unknown_run_registers_the_run_first(client, subscribe):
    ws = await subscribe()
    response = await client.post("/api/jobs/", json=job_body())
    assert response.status == 201
    run = {"run_uuid": "run-1", "run_datetime": "2026-02-24T10:31:00.000Z"}
    assert await next_message(ws) == {"type": "new_run", "data": run}
    assert await next_message(ws) == {"type": "new_job", "data": JOB}
    runs = await (await client.get("/api/runs/")).json()
    assert runs["runs"] == [{**run, **job_counts(total=1, running=1)}]


async def test_simultaneous_jobs_of_one_unknown_run_register_it_once(client, subscribe):
    ws = await subscribe()
    responses = await asyncio.gather(
        *(client.post("/api/jobs/", json=job_body(f"job-{n}")) for n in range(8)))
    assert [response.status for response in responses] == [201] * 8
    types = [(await next_message(ws))["type"] for _ in range(9)]
    assert types[0] == "new_run"
    assert sorted(types[1:]) == ["new_job"] * 8
    await no_message(ws)
    assert (await (await client.get("/api/runs/")).json())["total"] == 1
    assert (await jobs_page(client))["total"] == 8


async def test_a_job_of_a_known_run_broadcasts_no_new_run(client, subscribe):
    await client.post("/api/runs/", json=RUN)
    ws = await subscribe()
    await client.post("/api/jobs/", json=job_body())
    assert (await next_message(ws))["type"] == "new_job"
    await no_message(ws)
    runs = await (await client.get("/api/runs/")).json()
    assert runs["runs"] == [{"run_uuid": "run-1", "run_datetime": "2026-02-24T10:30:00.000Z",
                             **job_counts(total=1, running=1)}]


async def test_repeating_a_job_with_the_same_body_answers_200_and_broadcasts_nothing(
        client, subscribe):
    assert (await client.post("/api/jobs/", json=job_body())).status == 201
    ws = await subscribe()
    response = await client.post("/api/jobs/", json=job_body())
    assert response.status == 200
    assert await response.json() == JOB
    await no_message(ws)
    assert (await jobs_page(client))["total"] == 1


async def test_repeating_a_job_with_the_same_instant_in_another_form_is_the_same_job(client):
    await client.post("/api/jobs/", json=job_body())
    same_instant = job_body(job_datetime="2026-02-24T12:31:00+02:00")
    response = await client.post("/api/jobs/", json=same_instant)
    assert response.status == 200
    assert await response.json() == JOB


@pytest.mark.parametrize("change", [
    {"job_associated_agent": "agent-2"},
    {"job_datetime": "2026-02-24T11:00:00"},
    {"run_uuid": "run-2"},
])
async def test_reusing_a_job_id_with_another_body_is_a_409(client, subscribe, change):
    await client.post("/api/jobs/", json=job_body())
    ws = await subscribe()
    response = await client.post("/api/jobs/", json=job_body(**change))
    assert response.status == 409
    body = await response.json()
    assert body["error"] == "conflict"
    assert "job-1" in body["detail"]
    await no_message(ws)
    assert (await jobs_page(client))["jobs"] == [JOB]
    assert (await jobs_page(client, "?run_uuid=run-2"))["total"] == 0


async def test_a_repeated_job_without_its_optional_agent_is_the_same_job(client, subscribe):
    agent_7 = job_body(job_associated_agent="agent-7")
    assert (await client.post("/api/jobs/", json=agent_7)).status == 201
    ws = await subscribe()
    for repeat in (job_body(), job_body(job_associated_agent=None)):
        response = await client.post("/api/jobs/", json=repeat)
        assert response.status == 200
        assert await response.json() == {**JOB, "job_associated_agent": "agent-7"}
    await no_message(ws)


async def test_a_job_repeated_after_its_status_changed_answers_the_stored_job(
        client, subscribe):
    """A retry of the agent's create after a PATCH: the status is the service's to keep."""
    assert (await client.post("/api/jobs/", json=job_body(job_status="Running"))).status == 201
    await client.patch("/api/jobs/status", json={"job_uuid": "job-1", "job_status": "Success"})
    ws = await subscribe()
    response = await client.post("/api/jobs/", json=job_body(job_status="Running"))
    assert response.status == 200
    assert await response.json() == {**JOB, "job_status": "Success"}
    await no_message(ws)
    assert (await jobs_page(client))["jobs"] == [{**JOB, "job_status": "Success"}]


@pytest.mark.parametrize("body, field", [
    ({"job_uuid": "job-1", "job_datetime": "2026-02-24T10:31:00"}, "run_uuid"),
    ({"job_uuid": "job-1", "run_uuid": "run-1"}, "job_datetime"),
    (job_body(run_uuid=""), "run_uuid"),
    (job_body(run_uuid=None), "run_uuid"),
    (job_body(job_uuid=""), "job_uuid"),
    (job_body(job_uuid="j" * 256), "job_uuid"),
    (job_body(job_associated_agent="a" * 256), "job_associated_agent"),
    (job_body(job_status="s" * 256), "job_status"),
    (job_body(job_status=""), "job_status"),
    (job_body(job_status=1), "job_status"),
    (job_body(run_uuid=["run-1"]), "run_uuid"),
    (job_body(job_name="x"), "job_name"),
])
async def test_invalid_jobs_are_a_422_naming_the_field_and_store_nothing(client, body, field):
    await assert_validation_error(await client.post("/api/jobs/", json=body), field)
    assert (await jobs_page(client))["total"] == 0
    assert (await (await client.get("/api/runs/")).json())["total"] == 0


@SLASHES
async def test_list_jobs_newest_first_with_the_page_shape(client, slash):
    for number in range(3):
        await client.post("/api/jobs/", json=job_body(
            f"job-{number}", job_datetime=f"2026-02-24T10:3{number}:00"))
    response = await client.get("/api/jobs" + slash)
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"jobs", "total", "page", "page_size"}
    assert body["total"] == 3
    assert (body["page"], body["page_size"]) == (1, 10)
    assert [job["job_uuid"] for job in body["jobs"]] == ["job-2", "job-1", "job-0"]


async def test_list_jobs_filters_by_run(client):
    await client.post("/api/jobs/", json=job_body("job-a1", "run-a"))
    await client.post("/api/jobs/", json=job_body("job-b1", "run-b"))
    await client.post("/api/jobs/", json=job_body("job-a2", "run-a"))
    body = await jobs_page(client, "?run_uuid=run-a")
    assert body["total"] == 2
    assert {job["job_uuid"] for job in body["jobs"]} == {"job-a1", "job-a2"}
    assert all(job["run_uuid"] == "run-a" for job in body["jobs"])
    assert (await jobs_page(client))["total"] == 3


@pytest.mark.parametrize("query", ["?run_uuid=no-such-run", "?run_uuid=",
                                   "?run_uuid=no-such-run&page=3&page_size=5"])
async def test_a_run_filter_matching_nothing_is_an_empty_200(client, query):
    await client.post("/api/jobs/", json=job_body())
    body = await jobs_page(client, query)
    assert body["jobs"] == []
    assert body["total"] == 0


async def test_list_jobs_pages_through_the_jobs_of_a_run(client):
    for number in range(5):
        await client.post("/api/jobs/", json=job_body(
            f"job-{number}", job_datetime=f"2026-02-24T10:3{number}:00"))
    await client.post("/api/jobs/", json=job_body("other", "run-2"))
    seen = []
    for page in (1, 2, 3):
        body = await jobs_page(client, f"?run_uuid=run-1&page={page}&page_size=2")
        assert (body["total"], body["page"], body["page_size"]) == (5, page, 2)
        seen += [job["job_uuid"] for job in body["jobs"]]
    assert seen == ["job-4", "job-3", "job-2", "job-1", "job-0"]


@pytest.mark.parametrize("query, field", [
    ("?page=0", "page"),
    ("?page_size=101", "page_size"),
    ("?page_size=x", "page_size"),
    ("?run_uuid=a&run_uuid=b", "run_uuid"),
    ("?run=run-1", "run"),
])
async def test_bad_job_list_parameters_are_a_422(client, query, field):
    await assert_validation_error(await client.get("/api/jobs/" + query), field)


@SLASHES
async def test_update_job_status_changes_it_and_broadcasts(client, subscribe, slash):
    await client.post("/api/jobs/", json=job_body())
    ws = await subscribe()
    change = {"job_uuid": "job-1", "job_status": "Success"}
    response = await client.patch("/api/jobs/status" + slash, json=change)
    assert response.status == 200
    assert await response.json() == {"ok": True}
    assert await next_message(ws) == {"type": "update_job_status", "data": change}
    assert (await jobs_page(client))["jobs"][0]["job_status"] == "Success"


async def test_update_status_of_an_unknown_job_is_a_404_and_broadcasts_nothing(
        client, subscribe):
    ws = await subscribe()
    response = await client.patch("/api/jobs/status",
                                  json={"job_uuid": "no-such-job", "job_status": "Failed"})
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "not_found"
    assert "no-such-job" in body["detail"]
    await no_message(ws)
    assert (await jobs_page(client))["total"] == 0


@pytest.mark.parametrize("body, field", [
    ({"job_uuid": "job-1"}, "job_status"),
    ({"job_status": "Failed"}, "job_uuid"),
    ({"job_uuid": "job-1", "job_status": None}, "job_status"),
    ({"job_uuid": "job-1", "job_status": "s" * 256}, "job_status"),
    ({"job_uuid": "job-1", "job_status": "Failed", "extra": True}, "extra"),
])
async def test_invalid_job_status_updates_are_a_422_and_change_nothing(client, body, field):
    await client.post("/api/jobs/", json=job_body())
    await assert_validation_error(await client.patch("/api/jobs/status", json=body), field)
    assert (await jobs_page(client))["jobs"] == [JOB]


# Idempotent creates: conflicts name both versions; simultaneous repeats make one job


async def test_a_conflicting_job_answers_409_with_the_stored_and_the_sent_versions(client):
    await client.post("/api/jobs/", json=job_body())
    response = await client.post("/api/jobs/", json=job_body(job_associated_agent="agent-2"))
    assert response.status == 409
    body = await response.json()
    assert "job_associated_agent" in body["detail"]
    assert body["stored"] == JOB
    # What was sent, without the defaults of what was not.
    assert body["sent"] == {**job_body(), "job_datetime": JOB["job_datetime"],
                            "job_associated_agent": "agent-2"}


async def test_twenty_simultaneous_posts_of_one_job_leave_one_row_and_one_broadcast(
        client, subscribe):
    await client.post("/api/runs/", json=RUN)
    ws = await subscribe()
    responses = await asyncio.gather(*(client.post("/api/jobs/", json=job_body())
                                       for _ in range(20)))
    assert sorted(response.status for response in responses) == [200] * 19 + [201]
    for response in responses:
        assert await response.json() == JOB
    assert await next_message(ws) == {"type": "new_job", "data": JOB}
    await no_message(ws)
    assert (await jobs_page(client))["jobs"] == [JOB]


# One job, read alone


@SLASHES
async def test_get_job_answers_the_job(client, slash):
    await client.post("/api/jobs/", json=job_body(job_associated_agent="agent-7"))
    response = await client.get("/api/jobs/job-1" + slash)
    assert response.status == 200
    assert await response.json() == {**JOB, "job_associated_agent": "agent-7"}


@SLASHES
async def test_get_unknown_job_is_a_404_naming_it(client, slash):
    response = await client.get("/api/jobs/no-such-job" + slash)
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "not_found"
    assert "no-such-job" in body["detail"]


@SLASHES
async def test_get_of_jobs_status_reads_the_job_named_status(client, slash):
    response = await client.get("/api/jobs/status" + slash)
    assert response.status == 404
    assert "status" in (await response.json())["detail"]
    await client.post("/api/jobs/", json=job_body("status"))
    response = await client.get("/api/jobs/status" + slash)
    assert response.status == 200
    assert await response.json() == {**JOB, "job_uuid": "status"}


async def test_patch_of_jobs_status_still_sets_a_status_when_a_job_is_named_status(client):
    await client.post("/api/jobs/", json=job_body("status"))
    response = await client.patch("/api/jobs/status",
                                  json={"job_uuid": "status", "job_status": "Failed"})
    assert response.status == 200
    assert (await (await client.get("/api/jobs/status")).json())["job_status"] == "Failed"


# Filters: status, agent, since (inclusive) and until (exclusive) on job_datetime


@pytest.fixture
async def mixed_jobs(client):
    """Six jobs of two runs on two agents, one minute apart (job-0 at 10:30 … job-5 at 10:35)."""
    plan = [("run-1", "agent-a", "Running"), ("run-1", "agent-b", "Failed"),
            ("run-2", "agent-a", "Failed"), ("run-1", "agent-a", "Success"),
            ("run-2", "agent-b", "Running"), ("run-1", "agent-a", "Failed")]
    for number, (run_uuid, agent, status) in enumerate(plan):
        response = await client.post("/api/jobs/", json=job_body(
            f"job-{number}", run_uuid, job_datetime=f"2026-02-24T10:3{number}:00",
            job_associated_agent=agent, job_status=status))
        assert response.status == 201


async def job_uuids(client, query: str) -> tuple[list[str], int]:
    body = await jobs_page(client, "?" + query)
    return [job["job_uuid"] for job in body["jobs"]], body["total"]


@pytest.mark.parametrize("query, expected", [
    ("status=Failed", ["job-5", "job-2", "job-1"]),
    ("status=failed", ["job-5", "job-2", "job-1"]),
    ("status=Pending", []),
    ("agent=agent-b", ["job-4", "job-1"]),
    ("agent=no-such-agent", []),
    ("agent=", []),
    ("status=Failed&agent=agent-a", ["job-5", "job-2"]),
    ("run_uuid=run-1&status=Failed", ["job-5", "job-1"]),
    ("run_uuid=run-1&agent=agent-a&status=Success", ["job-3"]),
    ("since=2026-02-24T10:32:00", ["job-5", "job-4", "job-3", "job-2"]),
    ("until=2026-02-24T10:32:00", ["job-1", "job-0"]),
    ("since=2026-02-24T10:31:00&until=2026-02-24T10:34:00", ["job-3", "job-2", "job-1"]),
    ("run_uuid=run-2&since=2026-02-24T10:32:00&until=2026-02-24T10:34:00", ["job-2"]),
    ("run_uuid=run-1&status=Failed&agent=agent-b&until=2026-02-24T10:31:00", []),
])
async def test_list_jobs_filters_by_status_agent_and_datetime(client, mixed_jobs, query,
                                                               expected):
    assert await job_uuids(client, query) == (expected, len(expected))


async def test_filtered_jobs_page_with_the_filtered_total(client, mixed_jobs):
    first = await jobs_page(client, "?agent=agent-a&page=1&page_size=3")
    second = await jobs_page(client, "?agent=agent-a&page=2&page_size=3")
    assert (first["total"], second["total"]) == (4, 4)
    assert [job["job_uuid"] for job in first["jobs"] + second["jobs"]] == [
        "job-5", "job-3", "job-2", "job-0"]


@pytest.mark.parametrize("query, field", [
    ("?status=Done", "status"),
    ("?status=", "status"),
    ("?since=now", "since"),
    ("?until=2026-02-30", "until"),
    ("?agent=a&agent=b", "agent"),
])
async def test_bad_job_filters_are_a_422(client, query, field):
    await assert_validation_error(await client.get("/api/jobs/" + query), field)
