"""Specification of the triage reads (docs/api.md "Triage reads"): one read per view of the live
page, added beside the lists, whose shapes do not change."""

from __future__ import annotations

from helpers import RUN, assert_validation_error, event_body, job_body


async def post(client, path: str, body: dict) -> None:
    response = await client.post(path, json=body)
    assert response.status == 201, await response.text()


async def set_status(client, job_uuid: str, status: str) -> None:
    response = await client.patch("/api/jobs/status", json={"job_uuid": job_uuid,
                                                           "job_status": status})
    assert response.status == 200


async def failed_run(client) -> None:
    """run-1: job-ok (Success, two steps), job-bad (Failed: a failed step, then a plain one),
    job-gone (Lost, no event)."""
    await post(client, "/api/runs/", RUN)
    await post(client, "/api/jobs/", job_body("job-ok", job_associated_agent="agent-1",
                                              job_status="Success"))
    await post(client, "/api/events/", event_body("ok-1", "job-ok", event_content="Step 1"))
    await post(client, "/api/events/", event_body("ok-2", "job-ok", event_content="Step 2\nmore",
                                                  event_datetime="2026-02-24T10:40:00.000"))
    await post(client, "/api/jobs/", job_body("job-bad", job_associated_agent="agent-2",
                                              job_datetime="2026-02-24T10:33:00.000"))
    await post(client, "/api/events/", event_body(
        "bad-1", "job-bad", event_status="Failed",
        event_content="\n  TimeoutError: page did not load  \n  at step 3\n",
        event_datetime="2026-02-24T10:34:00.000"))
    await post(client, "/api/events/", event_body(
        "bad-2", "job-bad", event_content="Screenshot saved",
        event_datetime="2026-02-24T10:35:00.000"))
    await set_status(client, "job-bad", "Failed")
    await post(client, "/api/jobs/", job_body("job-gone", job_associated_agent="agent-3",
                                              job_datetime="2026-02-24T10:32:00.000"))
    await set_status(client, "job-gone", "Lost")


async def test_a_runs_jobs_come_in_one_read_with_reports_last_message_and_failure_line(client):
    await failed_run(client)
    response = await client.get("/api/triage/runs/run-1")
    assert response.status == 200
    body = await response.json()
    assert body["run"]["run_status"] == "Failed"
    assert (body["run"]["failure_job_uuid"], body["run"]["failure_agent"]) == (
        "job-bad", "agent-2")
    assert body["run"]["failure"] == "TimeoutError: page did not load"
    assert (body["total"], body["page"], body["page_size"]) == (3, 1, 1000)
    jobs = {job["job_uuid"]: job for job in body["jobs"]}
    assert [job["job_uuid"] for job in body["jobs"]] == ["job-bad", "job-gone", "job-ok"]
    assert jobs["job-ok"] == {
        "job_uuid": "job-ok", "run_uuid": "run-1", "job_datetime": "2026-02-24T10:31:00.000Z",
        "job_associated_agent": "agent-1", "job_status": "Success",
        "first_report_datetime": "2026-02-24T10:31:00.000Z",
        "last_report_datetime": "2026-02-24T10:40:00.000Z",
        "last_message": "Step 2", "failure": None}
    # A Failed job's failure line is its newest Failed event's, not its newest event's.
    assert jobs["job-bad"]["last_message"] == "Screenshot saved"
    assert jobs["job-bad"]["failure"] == "TimeoutError: page did not load"
    assert jobs["job-bad"]["last_report_datetime"] == "2026-02-24T10:35:00.000Z"
    # Without any event: reported at its own datetime, with nothing to say.
    assert jobs["job-gone"]["last_report_datetime"] == "2026-02-24T10:32:00.000Z"
    assert (jobs["job-gone"]["last_message"], jobs["job-gone"]["failure"]) == (None, None)


async def test_the_failure_of_a_failed_job_without_a_failed_event_is_its_last_message(client):
    await post(client, "/api/jobs/", job_body("job-1", job_status="Failed"))
    await post(client, "/api/events/", event_body(event_content="exit code 3"))
    job = (await (await client.get("/api/triage/runs/run-1")).json())["jobs"][0]
    assert (job["last_message"], job["failure"]) == ("exit code 3", "exit code 3")


async def test_a_run_alone_and_its_jobs_page_by_page(client):
    for n in range(5):
        await post(client, "/api/jobs/", job_body(f"job-{n}",
                                                  job_datetime=f"2026-02-24T10:3{n}:00.000"))
    alone = await (await client.get("/api/triage/runs/run-1?page_size=0")).json()
    assert (alone["jobs"], alone["total"], alone["run"]["jobs_running"]) == ([], 5, 5)
    second = await (await client.get("/api/triage/runs/run-1?page=2&page_size=2")).json()
    assert [job["job_uuid"] for job in second["jobs"]] == ["job-2", "job-1"]
    assert (await client.get("/api/triage/runs/unknown")).status == 404
    await assert_validation_error(
        await client.get("/api/triage/runs/run-1?page_size=1001"), "page_size")


async def test_the_runs_list_carries_each_failed_runs_newest_failure_and_keeps_the_run_shape(
        client):
    await failed_run(client)
    await post(client, "/api/runs/", {"run_uuid": "run-2", "run_datetime": "2026-02-24T11:00:00"})
    await post(client, "/api/jobs/", job_body("job-fine", "run-2", job_status="Success"))
    body = await (await client.get("/api/triage/runs/?page_size=10")).json()
    listed = await (await client.get("/api/runs/?page_size=10")).json()
    assert body["total"] == listed["total"] == 2
    runs = {run["run_uuid"]: run for run in body["runs"]}
    for run in listed["runs"]:
        triaged = runs[run["run_uuid"]]
        assert {key: triaged[key] for key in run} == run
    assert runs["run-1"]["failure"] == "TimeoutError: page did not load"
    assert runs["run-2"]["failure"] is runs["run-2"]["failure_job_uuid"] is None
    failed = await (await client.get("/api/triage/runs/?run_status=failed")).json()
    assert [run["run_uuid"] for run in failed["runs"]] == ["run-1"]


async def test_failures_of_every_run_newest_first_with_run_agent_and_failure_line(client):
    await failed_run(client)
    await post(client, "/api/jobs/", job_body("job-other", "run-2", job_status="Failed",
                                              job_associated_agent="agent-9",
                                              job_datetime="2026-02-24T12:00:00.000"))
    await post(client, "/api/events/", event_body("other-1", "job-other",
                                                  event_content="AssertionError: 2 != 3"))
    body = await (await client.get("/api/triage/failures/")).json()
    assert body["next"] is None
    assert [(job["job_uuid"], job["run_uuid"], job["job_associated_agent"], job["job_status"],
             job["failure"]) for job in body["failures"]] == [
        ("job-other", "run-2", "agent-9", "Failed", "AssertionError: 2 != 3"),
        ("job-bad", "run-1", "agent-2", "Failed", "TimeoutError: page did not load"),
        ("job-gone", "run-1", "agent-3", "Lost", None)]
    first = await (await client.get("/api/triage/failures/?limit=2")).json()
    assert [job["job_uuid"] for job in first["failures"]] == ["job-other", "job-bad"]
    rest = await (await client.get(f"/api/triage/failures/?limit=2&before={first['next']}"
                                   )).json()
    assert ([job["job_uuid"] for job in rest["failures"]], rest["next"]) == (["job-gone"], None)
    # A job brought back is no failure any more.
    await set_status(client, "job-gone", "Running")
    body = await (await client.get("/api/triage/failures/")).json()
    assert "job-gone" not in [job["job_uuid"] for job in body["failures"]]


async def test_search_hits_name_their_run_and_agent_in_all_a_run_or_a_job(client):
    await failed_run(client)
    await post(client, "/api/jobs/", job_body("job-other", "run-2", job_associated_agent="a-9"))
    await post(client, "/api/events/", event_body("other-1", "job-other",
                                                  event_content="TimeoutError again",
                                                  event_datetime="2026-02-24T12:00:00.000"))

    async def hits(query: str) -> list[tuple[str, str, str]]:
        response = await client.get(f"/api/triage/search/?{query}")
        assert response.status == 200, await response.text()
        return [(hit["event_uuid"], hit["run_uuid"], hit["job_associated_agent"])
                for hit in (await response.json())["events"]]

    assert await hits("q=timeouterror") == [("other-1", "run-2", "a-9"),
                                            ("bad-1", "run-1", "agent-2")]
    assert await hits("q=timeouterror&run_uuid=run-1") == [("bad-1", "run-1", "agent-2")]
    assert await hits("q=timeouterror&job_uuid=job-other") == [("other-1", "run-2", "a-9")]
    assert await hits("q=step&run_uuid=run-1&limit=1") == [("ok-2", "run-1", "agent-1")]
    await assert_validation_error(await client.get("/api/triage/search/"), "q")
    await assert_validation_error(await client.get("/api/triage/search/?q=a+b+c+d+e"), "q")
