"""Specification of a run's state (docs/api.md "Run state"): every run read from the API carries
`run_status` derived from its jobs by the database, `jobs_lost`, and its first and last
report times; the runs list filters on `run_status`.
"""

from __future__ import annotations

from helpers import RUN, assert_validation_error, event_body, job_body


async def run_state(client, run_uuid: str = "run-1") -> tuple[str, int]:
    """The run as GET /api/runs/{uuid} and as the runs list answer it: they must agree."""
    one = await (await client.get(f"/api/runs/{run_uuid}")).json()
    listed = {run["run_uuid"]: run
              for run in (await (await client.get("/api/runs/?page_size=100")).json())["runs"]}
    assert listed[run_uuid] == one
    return one["run_status"], one["jobs_lost"]


async def set_status(client, job_uuid: str, status: str) -> None:
    response = await client.patch("/api/jobs/status", json={"job_uuid": job_uuid,
                                                           "job_status": status})
    assert response.status == 200


async def test_a_run_without_jobs_is_pending_and_reported_at_its_own_datetime(client):
    await client.post("/api/runs/", json=RUN)
    run = await (await client.get("/api/runs/run-1")).json()
    assert (run["run_status"], run["jobs_lost"]) == ("Pending", 0)
    assert run["first_report_datetime"] == run["last_report_datetime"] == "2026-02-24T10:30:00.000Z"


async def test_run_status_follows_every_transition_of_its_jobs(client):
    await client.post("/api/runs/", json=RUN)
    await client.post("/api/jobs/", json=job_body("job-1"))
    assert await run_state(client) == ("Running", 0)
    await set_status(client, "job-1", "Success")
    assert await run_state(client) == ("Success", 0)
    await client.post("/api/jobs/", json=job_body("job-2", job_status="Pending"))
    assert await run_state(client) == ("Running", 0)
    await set_status(client, "job-2", "Cancelled")
    assert await run_state(client) == ("Cancelled", 0)
    await set_status(client, "job-2", "Lost")
    assert await run_state(client) == ("Failed", 1)
    await set_status(client, "job-2", "Running")
    assert await run_state(client) == ("Running", 0)
    await set_status(client, "job-2", "Failed")
    assert await run_state(client) == ("Failed", 0)
    # Failed wins over Cancelled; Running over everything.
    await client.post("/api/jobs/", json=job_body("job-3", job_status="Cancelled"))
    assert await run_state(client) == ("Failed", 0)
    await set_status(client, "job-1", "Running")
    assert await run_state(client) == ("Running", 0)


async def test_an_event_of_a_lost_job_makes_the_run_running_again(client):
    await client.post("/api/jobs/", json=job_body("job-1"))
    await set_status(client, "job-1", "Lost")
    assert await run_state(client) == ("Failed", 1)
    assert (await client.post("/api/events/", json=event_body(job_uuid="job-1"))).status == 201
    assert await run_state(client) == ("Running", 0)


async def test_the_last_report_is_the_newest_of_the_run_its_jobs_and_their_events(client):
    await client.post("/api/runs/", json=RUN)  # 10:30
    run = await (await client.get("/api/runs/run-1")).json()
    assert run["last_report_datetime"] == "2026-02-24T10:30:00.000Z"
    await client.post("/api/jobs/", json=job_body("job-1"))  # 10:31
    await client.post("/api/jobs/", json=job_body("job-2", job_datetime="2026-02-24T10:40:00"))
    await client.post("/api/events/", json=event_body("e-1", "job-1"))  # 10:32
    run = await (await client.get("/api/runs/run-1")).json()
    assert (run["first_report_datetime"], run["last_report_datetime"]) == (
        "2026-02-24T10:30:00.000Z", "2026-02-24T10:40:00.000Z")
    await client.post("/api/events/", json=event_body(
        "e-2", "job-1", event_datetime="2026-02-24T11:00:00.250"))
    run = await (await client.get("/api/runs/run-1")).json()
    assert run["last_report_datetime"] == "2026-02-24T11:00:00.250Z"


async def test_the_runs_list_filters_on_run_status_with_paging_and_dates(client):
    for number, statuses in enumerate([["Running"], ["Success"], ["Success", "Failed"],
                                       ["Lost", "Success"], [], ["Cancelled"], ["Success"]]):
        await client.post("/api/runs/", json={"run_uuid": f"run-{number}",
                                              "run_datetime": f"2026-02-24T10:0{number}:00"})
        for index, status in enumerate(statuses):
            await client.post("/api/jobs/", json=job_body(f"job-{number}-{index}",
                                                          f"run-{number}", job_status=status))

    async def listed(query: str) -> tuple[list[str], int]:
        body = await (await client.get(f"/api/runs/?{query}")).json()
        wanted = query.split("&")[0].removeprefix("run_status=").lower()
        assert all(run["run_status"].lower() == wanted for run in body["runs"])
        return [run["run_uuid"] for run in body["runs"]], body["total"]

    assert await listed("run_status=Failed") == (["run-3", "run-2"], 2)
    assert await listed("run_status=success") == (["run-6", "run-1"], 2)
    assert await listed("run_status=Pending") == (["run-4"], 1)
    assert await listed("run_status=Running") == (["run-0"], 1)
    assert await listed("run_status=Cancelled") == (["run-5"], 1)
    assert await listed("run_status=Success&page=2&page_size=1") == (["run-1"], 2)
    assert await listed("run_status=Failed&since=2026-02-24T10:03:00") == (["run-3"], 1)


async def test_a_run_status_filter_outside_the_run_vocabulary_is_a_422(client):
    for query in ("run_status=Lost", "run_status=Done", "run_status=Failed&q=run"):
        await assert_validation_error(await client.get(f"/api/runs/?{query}"), "run_status")
